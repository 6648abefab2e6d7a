package promote

import (
	"strings"
	"testing"

	"github.com/slipway-build/slipway/internal/report"
)

func TestFromReport(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pushed := func(name string) report.Image {
		return report.Image{Name: name, Repository: "staging.example.com/team/" + name, Tags: []string{"1.4.0", "abc1234"},
			Digest: d, Pushed: []string{"staging.example.com/team/" + name + ":1.4.0@" + d}}
	}
	built := report.Image{Name: "api", Repository: "staging.example.com/team/api", Tags: []string{"1.4.0"}, Digest: d}
	for _, tc := range []struct {
		name       string
		images     []report.Image
		only, tags []string
		want       []string // SOURCE -> DEST tags
		wantErr    string
	}{
		{name: "all", images: []report.Image{pushed("web"), pushed("tools/worker")},
			want: []string{
				"staging.example.com/team/web@" + d + " -> prod.example.com/team/web [1.4.0 abc1234]",
				"staging.example.com/team/tools/worker@" + d + " -> prod.example.com/team/tools/worker [1.4.0 abc1234]",
			}},
		{name: "only, other tags", images: []report.Image{pushed("web"), pushed("api")}, only: []string{"api"}, tags: []string{"stable"},
			want: []string{"staging.example.com/team/api@" + d + " -> prod.example.com/team/api [stable]"}},
		{name: "unknown image", images: []report.Image{pushed("web")}, only: []string{"api"}, wantErr: "image api is not in the report"},
		{name: "built, not pushed", images: []report.Image{built}, wantErr: "does not say image api was pushed"},
		{name: "nothing", images: []report.Image{{Name: "web", Repository: "staging.example.com/team/web"}}, wantErr: "no pushed image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := report.New("release", "test")
			rep.Images = tc.images
			imgs, err := FromReport(rep, "prod.example.com/team", tc.only, tc.tags, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, img := range imgs {
				got = append(got, img.Source.String()+" -> "+img.Dest.String()+" ["+strings.Join(img.Tags, " ")+"]")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
