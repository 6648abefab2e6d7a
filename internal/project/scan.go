package project

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// validateScan checks scan: and attest:.
func validateScan(cfg *Config, root *yaml.Node, at func(Position, string, ...any)) {
	if s := cfg.Scan; s != nil {
		n := mappingValue(root, "scan")
		if s.Scanner != "" && s.Scanner != ScannerTrivy {
			at(valuePos(n, "scanner"), "scan.scanner: %q is not a supported scanner (trivy)", s.Scanner)
		}
		if s.FailOn != "" && !slices.Contains(Severities, strings.ToUpper(s.FailOn)) {
			at(valuePos(n, "fail-on"), "scan.fail-on: %q is not one of %s", s.FailOn, strings.Join(Severities, ", "))
		}
		for i, id := range s.Ignore {
			if strings.TrimSpace(id) == "" {
				at(seqItemPos(n, "ignore", i), "scan.ignore[%d]: empty vulnerability ID", i)
			}
		}
	}
	if a := cfg.Attest; a != nil {
		n := mappingValue(root, "attest")
		switch a.Provenance {
		case "", ProvenanceMax, ProvenanceMin, ProvenanceOff:
		default:
			at(valuePos(n, "provenance"), "attest.provenance: %q is not one of max, min, off", a.Provenance)
		}
		switch a.SBOMFormat {
		case "", SBOMSPDX, SBOMCycloneDX:
		default:
			at(valuePos(n, "sbom-format"), "attest.sbom-format: %q is not one of spdx-json, cyclonedx", a.SBOMFormat)
		}
		if cfg.Sign == nil {
			at(a.Loc, "attest: attestations are signed with the sign: key; add a sign: section")
		}
		if cfg.Scan == nil {
			if a.SBOM != nil && *a.SBOM {
				at(valuePos(n, "sbom"), "attest.sbom: the SBOM comes from the scanner; add a scan: section")
			}
			if a.Vuln != nil && *a.Vuln {
				at(valuePos(n, "vuln"), "attest.vuln: the vulnerability report comes from the scanner; add a scan: section")
			}
		}
	}
}

// FailOnSeverity is scan.fail-on in upper case, HIGH by default.
func (s *Scan) FailOnSeverity() string {
	if s == nil || s.FailOn == "" {
		return "HIGH"
	}
	return strings.ToUpper(s.FailOn)
}
