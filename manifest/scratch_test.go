package manifest

import (
	"bytes"
	"os/exec"
	"context"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestScratchBench(t *testing.T) {
	files, _ := Files([]string{"/tmp/gm"})
	imgs := []Image{{Repository: "registry.example.com:5000/team/web", Tag: "1.3.0"}}
	for i := 0; i < 3; i++ {
		start, c0 := time.Now(), cpuTime()
		ch, err := Plan(context.Background(), files, imgs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(len(ch.Changed()), len(ch.Edits()), time.Since(start), "cpu", cpuTime()-c0)
	}
}

func TestScratchApply(t *testing.T) {
	dir := t.TempDir()
	if err := exec.Command("cp", "-r", "/tmp/gm/.", dir).Run(); err != nil {
		t.Fatal(err)
	}
	files, _ := Files([]string{dir})
	imgs := []Image{{Repository: "registry.example.com:5000/team/web", Tag: "1.3.0"}}
	ch, err := Plan(context.Background(), files, imgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start, c0 := time.Now(), cpuTime()
	if err := ch.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Log("apply", time.Since(start), "cpu", cpuTime()-c0)
	var b bytes.Buffer
	start, c0 = time.Now(), cpuTime()
	ch.Diff(&b)
	t.Log("diff", time.Since(start), "cpu", cpuTime()-c0, b.Len())
}
