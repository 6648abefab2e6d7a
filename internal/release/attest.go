package release

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/attest"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/internal/scan"
	"github.com/slipway-build/slipway/internal/sign"
	"github.com/slipway-build/slipway/internal/store"
	"github.com/slipway-build/slipway/internal/tagging"
)

// Attesting reports whether the project makes any attestation.
func Attesting(cfg *project.Config) bool {
	return cfg.Attest != nil && (cfg.ProvenanceMode() != "" || cfg.AttestSBOM() || cfg.AttestVuln())
}

// Attest makes the attestations slipway.yaml asks for, from what the
// build and the scan left in the store for each target's platform images,
// signs them with s and stores them next to the images (see sign.Attest).
// It records them in rep.
func Attest(ctx context.Context, cfg *project.Config, s *sign.Signer, targets []SignTarget, so sign.Options, opts Options, rep *report.Report) error {
	if !Attesting(cfg) {
		return nil
	}
	st, err := store.Open(opts.storeDir(cfg))
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	var trivy string
	var scanner attest.Scanner
	if cfg.AttestSBOM() || cfg.AttestVuln() {
		if trivy, err = scan.Find(); err != nil {
			return err
		}
		if cfg.AttestVuln() {
			scanner = attest.ScannerInfo(ctx, trivy, cfg.Scan.DB)
		}
	}
	for _, t := range targets {
		r := rep.Upsert(t.Name)
		if r.Skipped {
			// Not built by this run: the release that built it attested it.
			continue
		}
		repo := t.Digest.Context()
		platforms := attestPlatforms(r, t.Digest)
		put := func(kind string, d name.Digest, stmt []byte) error {
			a, err := s.Attest(ctx, d, stmt, so)
			if err != nil {
				return fmt.Errorf("attesting %s (%s): %w", t.Name, kind, err)
			}
			r.Attested = append(r.Attested, report.Attestation{Type: kind, PredicateType: a.PredicateType,
				Subject: d.DigestStr(), Ref: a.Ref.String(), Existed: a.Existed})
			return nil
		}
		sidecar := func(pd, kind string) ([]byte, error) {
			h, err := v1.NewHash(pd)
			if err != nil {
				return nil, err
			}
			b, err := st.Sidecar(h, kind)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("attesting %s: the store has no %s for %s; build (and scan) it again", t.Name, kind, pd)
			}
			return b, err
		}
		if cfg.ProvenanceMode() != "" {
			var first []byte
			for _, pd := range platforms {
				raw, err := sidecar(pd, builder.SidecarProvenance)
				if err != nil {
					return err
				}
				if first == nil {
					first = raw
				}
				stmt, err := attest.FromProvenance(raw, []attest.Subject{{Name: repo.String(), Digest: pd}})
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				if err := put(attest.Provenance, repo.Digest(pd), stmt); err != nil {
					return err
				}
			}
			if len(platforms) > 1 || platforms[0] != t.Digest.DigestStr() {
				// The index's provenance names the index and every platform
				// image; the predicate is the first platform's build.
				subjects := []attest.Subject{{Name: repo.String(), Digest: t.Digest.DigestStr()}}
				for _, pd := range platforms {
					subjects = append(subjects, attest.Subject{Name: repo.String(), Digest: pd})
				}
				stmt, err := attest.FromProvenance(first, subjects)
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				if err := put(attest.Provenance, t.Digest, stmt); err != nil {
					return err
				}
			}
		}
		for _, pd := range platforms {
			if !cfg.AttestSBOM() && !cfg.AttestVuln() {
				break
			}
			raw, err := sidecar(pd, SidecarScan)
			if err != nil {
				return err
			}
			subject := []attest.Subject{{Name: repo.String(), Digest: pd}}
			if cfg.AttestSBOM() {
				sbom, err := attest.MakeSBOM(ctx, trivy, raw, cfg.SBOMFormat())
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				stmt, err := attest.Statement(attest.SBOMPredicateType(cfg.SBOMFormat()), sbom, subject)
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				if err := put(attest.SBOM, repo.Digest(pd), stmt); err != nil {
					return err
				}
			}
			if cfg.AttestVuln() {
				pred, err := attest.VulnPredicate(raw, scanner)
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				stmt, err := attest.Statement(attest.PredicateVuln, pred, subject)
				if err != nil {
					return fmt.Errorf("attesting %s: %w", t.Name, err)
				}
				if err := put(attest.Vuln, repo.Digest(pd), stmt); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// attestPlatforms are the platform manifests of an image, in platform
// order; a single-platform image is its own.
func attestPlatforms(r *report.Image, d name.Digest) []string {
	if len(r.PlatformDigests) == 0 {
		return []string{d.DigestStr()}
	}
	keys := make([]string, 0, len(r.PlatformDigests))
	for k := range r.PlatformDigests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, r.PlatformDigests[k])
	}
	return out
}

// ProjectSource is the git source a provenance of cfg's images names: the
// HEAD commit and the repository URL the build records. The commit is
// empty outside a git checkout.
func ProjectSource(ctx context.Context, cfg *project.Config, getenv func(string) string) attest.Source {
	f, err := tagging.HeadFacts(ctx, cfg.Dir, getenv, false)
	if err != nil {
		return attest.Source{}
	}
	return attest.Source{Commit: f.Commit, Repository: sourceURL(ctx, cfg.Dir, getenv)}
}
