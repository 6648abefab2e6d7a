package lint

import (
	"context"
	"fmt"
)

// baseSize applies base-size to the external bases of the targets: their
// compressed size for each target platform against max-base-mb. A base
// the registry cannot tell about gives a note, not a finding.
func baseSize(ctx context.Context, reg Registry, bases []BaseImage, files []string, cfg Config) ([]Finding, []string) {
	var out []Finding
	var notes []string
	limit := int64(cfg.maxBaseMB()) << 20
	type key struct{ ref, platform string }
	sizes := map[key]int64{}
	for i, b := range bases {
		ps := b.Platforms
		if len(ps) == 0 {
			ps = []string{""}
		}
		for _, p := range ps {
			k := key{b.Ref, p}
			size, ok := sizes[k]
			if !ok {
				n, err := reg.BaseSize(ctx, b.Ref, p)
				if err != nil {
					notes = append(notes, fmt.Sprintf("base-size not checked for %s: %v", b.Ref, err))
					sizes[k] = -1
					continue
				}
				size, sizes[k] = n, n
			}
			if size > limit {
				on := ""
				if p != "" {
					on = " for " + p
				}
				out = append(out, at(RuleBaseSize, files[i], b.Line, 1,
					fmt.Sprintf("base image %s is %s compressed%s, more than max-base-mb %d: pick a smaller base (distroless, alpine, scratch)", b.Ref, megabytes(size), on, cfg.maxBaseMB())))
			}
		}
	}
	return out, notes
}
