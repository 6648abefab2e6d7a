package attest

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/sign"
)

// Kinds are the attestation kinds, in the order they are checked.
var Kinds = []string{Provenance, SBOM, Vuln}

// CheckOptions say what Check requires.
type CheckOptions struct {
	// Kinds are the attestations required: provenance, sbom, vuln.
	Kinds []string
	// SBOMFormat is spdx-json (default) or cyclonedx.
	SBOMFormat string
	// Head, when its Commit is set, is the source a provenance statement
	// must name (the project's git HEAD, and its repository when known).
	Head Source
}

// Check requires, on the image digest, the attestations of o.Kinds that
// verify with v: provenance on digest itself, SBOM and vulnerability
// reports on each platform image (digest itself for a single-platform
// image). With o.Head.Commit set, every verified provenance must name that
// commit (and the repository, when both name one).
func Check(ctx context.Context, v *sign.Verifier, digest name.Digest, o CheckOptions, so sign.Options) error {
	var platforms []name.Digest
	for _, kind := range o.Kinds {
		switch kind {
		case Provenance:
			stmts, err := v.VerifyAttestations(ctx, digest, PredicateSLSA1, so)
			if err != nil {
				return fmt.Errorf("provenance: %w", err)
			}
			if o.Head.Commit != "" {
				if err := matchSource(stmts, o.Head); err != nil {
					return fmt.Errorf("provenance of %s: %w", digest.DigestStr(), err)
				}
			}
		case SBOM, Vuln:
			if platforms == nil {
				all, err := sign.Manifests(ctx, digest, so)
				if err != nil {
					return err
				}
				platforms = all
				if len(all) > 1 {
					platforms = all[1:]
				}
			}
			pt := PredicateVuln
			if kind == SBOM {
				pt = SBOMPredicateType(o.SBOMFormat)
			}
			for _, p := range platforms {
				if _, err := v.VerifyAttestations(ctx, p, pt, so); err != nil {
					return fmt.Errorf("%s: %w", kind, err)
				}
			}
		default:
			return fmt.Errorf("unknown attestation %q (want provenance, sbom or vuln)", kind)
		}
	}
	return nil
}

// matchSource requires one statement naming head's commit (and repository).
func matchSource(stmts []sign.VerifiedStatement, head Source) error {
	var seen []string
	for _, s := range stmts {
		src, err := ProvenanceSource(s.Statement)
		if err != nil {
			seen = append(seen, err.Error())
			continue
		}
		if src.Commit != head.Commit {
			seen = append(seen, "built from commit "+src.Commit)
			continue
		}
		if src.Repository != "" && head.Repository != "" && !sameRepo(src.Repository, head.Repository) {
			seen = append(seen, "built from "+src.Repository)
			continue
		}
		return nil
	}
	return fmt.Errorf("not built from this project's HEAD %s (%s)", head.Commit, strings.Join(seen, "; "))
}

func sameRepo(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), ".git")
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		return strings.ToLower(s)
	}
	return norm(a) == norm(b)
}
