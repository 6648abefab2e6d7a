package builder

import (
	"reflect"
	"testing"
)

func TestFleetAssign(t *testing.T) {
	def := &member{name: "default"}
	amdA := &member{name: "amd-a", platforms: map[string]bool{"linux/amd64": true}}
	amdB := &member{name: "amd-b", platforms: map[string]bool{"linux/amd64": true}}
	arm := &member{name: "arm", platforms: map[string]bool{"linux/arm64": true}}
	run := &fleetRun{members: []*member{def, amdA, amdB, arm}, def: def, nodes: true}

	names := func(parts []part) map[string][]string {
		out := map[string][]string{}
		for _, p := range parts {
			out[p.m.name] = p.platforms
		}
		return out
	}
	// The first image takes the first amd64 node, the second the other one
	// (the first is busy), both share the arm64 node; s390x and an image
	// without platforms go to the default daemon.
	p1, done1, err := run.assign(Request{Name: "a", Platforms: []string{"linux/amd64", "linux/arm64/v8", "linux/s390x"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"amd-a": {"linux/amd64"}, "arm": {"linux/arm64/v8"}, "default": {"linux/s390x"}}; !reflect.DeepEqual(names(p1), want) {
		t.Errorf("first image: %v, want %v", names(p1), want)
	}
	p2, done2, err := run.assign(Request{Name: "b", Platforms: []string{"linux/amd64"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]string{"amd-b": {"linux/amd64"}}; !reflect.DeepEqual(names(p2), want) {
		t.Errorf("second image: %v, want %v", names(p2), want)
	}
	p3, done3, err := run.assign(Request{Name: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p3) != 1 || p3[0].m != def || p3[0].platforms != nil {
		t.Errorf("image without platforms: %v", names(p3))
	}
	done1()
	done2()
	done3()
	for _, m := range run.members {
		if m.running != 0 {
			t.Errorf("%s still counts %d builds", m.name, m.running)
		}
	}
	// Once both are idle again, the first node wins.
	p4, done4, _ := run.assign(Request{Name: "d", Platforms: []string{"linux/amd64"}})
	done4()
	if p4[0].m != amdA {
		t.Errorf("idle fleet: %s, want amd-a", p4[0].m.name)
	}

	// Without a default daemon, what no node declares cannot be built.
	run = &fleetRun{members: []*member{arm}, nodes: true}
	if _, _, err := run.assign(Request{Name: "e", Platforms: []string{"linux/amd64"}}); err == nil {
		t.Error("no error for a platform no node declares and no default daemon")
	}
	if _, _, err := run.assign(Request{Name: "f"}); err == nil {
		t.Error("no error for an image without platforms and no default daemon")
	}
}
