package report

// Scan is the vulnerability scan of one platform image.
type Scan struct {
	Platform string `json:"platform,omitempty"`
	// Digest is the scanned platform manifest.
	Digest string `json:"digest"`
	// Scanner is the program that scanned, e.g. trivy.
	Scanner string `json:"scanner"`
	// FailOn is the lowest severity that fails the scan.
	FailOn string `json:"failOn"`
	// Passed is false when a finding at or above FailOn is not ignored.
	Passed bool `json:"passed"`
	// Counts are the findings by severity.
	Counts map[string]int `json:"counts"`
	// Findings are those at or above FailOn (ignored ones marked).
	Findings []VulnFinding `json:"findings"`
}

// VulnFinding is one vulnerability of one package.
type VulnFinding struct {
	ID        string `json:"id"`
	Package   string `json:"package"`
	Installed string `json:"installed"`
	Fixed     string `json:"fixed,omitempty"`
	Severity  string `json:"severity"`
	Title     string `json:"title,omitempty"`
	Ignored   bool   `json:"ignored,omitempty"`
}

// Attestation is one signed attestation stored for an image.
type Attestation struct {
	// Type is provenance, sbom or vuln.
	Type string `json:"type"`
	// PredicateType is the in-toto predicate type.
	PredicateType string `json:"predicateType"`
	// Subject is the attested digest (a platform manifest or the index).
	Subject string `json:"subject"`
	// Ref is the attestation image, tag sha256-<hex>.att, pinned by digest.
	Ref string `json:"ref"`
	// Existed is set when an equal attestation was already stored.
	Existed bool `json:"existed,omitempty"`
}
