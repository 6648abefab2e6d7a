package release

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/scan"
)

// fakeScanner records its call and fails the way it is told.
type fakeScanner struct {
	f   *fakes
	err error
}

func (s fakeScanner) Scan(ctx context.Context, plan *Plan, rep *report.Report) error {
	s.f.calls = append(s.f.calls, "scan")
	return s.err
}

func TestReleaseScanGate(t *testing.T) {
	failed := &ScanFailedError{FailOn: "HIGH", Results: []scan.Result{{
		Target:  scan.Target{Image: "web", Platform: "linux/amd64"},
		Failing: []scan.Finding{{ID: "CVE-2024-0001", Package: "libx", Installed: "1.0", Severity: "CRITICAL"}},
	}}}
	tests := []struct {
		name    string
		openErr error
		scanErr error
		ran     string
	}{
		{name: "passing scan", ran: "open-scanner,open-signer,build,scan,push,sign"},
		{name: "failing scan", scanErr: failed, ran: "open-scanner,open-signer,build,scan"},
		{name: "no scanner", openErr: &scan.MissingError{}, ran: "open-scanner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, plan := testProject(t, nil)
			f := &fakes{}
			st := f.stages()
			st.OpenScanner = func(ctx context.Context) (Scanner, error) {
				f.calls = append(f.calls, "open-scanner")
				if tt.openErr != nil {
					return nil, tt.openErr
				}
				return fakeScanner{f: f, err: tt.scanErr}, nil
			}
			rep := report.New("release", "test")
			_, err := st.Release(context.Background(), cfg, plan, "", rep, false)
			if got := strings.Join(f.calls, ","); got != tt.ran {
				t.Errorf("stages ran as %s, want %s", got, tt.ran)
			}
			want := tt.openErr
			if want == nil {
				want = tt.scanErr
			}
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			got, _ := os.ReadFile(filepath.Join(cfg.Dir, "deploy/web.yaml"))
			if want != nil && string(got) != deployment {
				t.Errorf("manifest changed by a failed scan:\n%s", got)
			}
			if want != nil && len(rep.Image("web").Pushed) != 0 {
				t.Errorf("pushed after a failed scan: %+v", rep.Image("web").Pushed)
			}
		})
	}
	if msg := failed.Error(); !strings.Contains(msg, "CVE-2024-0001") || !strings.Contains(msg, "web linux/amd64") {
		t.Errorf("error does not name the finding: %s", msg)
	}
}
