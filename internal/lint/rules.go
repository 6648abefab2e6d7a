package lint

// DocsURL is where docs/lint.md is published; each slipway rule links to
// its section.
const DocsURL = "https://github.com/slipway-build/slipway/blob/main/docs/lint.md"

// slipway's own rule ids.
const (
	RuleBaseLatest    = "base-latest"
	RuleBaseUnpinned  = "base-unpinned"
	RuleRootUser      = "root-user"
	RuleLayers        = "layers"
	RuleBaseSize      = "base-size"
	RuleImageRoot     = "image-root"
	RuleImageLayers   = "image-layers"
	RuleImageSize     = "image-size"
	RuleImageSecret   = "image-secret"
	RuleImageLatest   = "image-latest"
	RuleImageUntagged = "image-untagged"
	RuleImageUnpinned = "image-unpinned"
	RulePullPolicy    = "pull-policy"
)

func slipwayRule(id string, sev Severity, desc string) Rule {
	return Rule{ID: id, Severity: sev, Description: desc, URL: DocsURL + "#" + id, Source: SourceSlipway}
}

// Rules are slipway's own rules, in the order of docs/lint.md.
var Rules = []Rule{
	slipwayRule(RuleBaseLatest, Error, "A FROM names a base image without a tag or with :latest, so the build changes whenever the tag moves."),
	slipwayRule(RuleBaseUnpinned, Info, "A FROM names a base image by tag only; a digest (@sha256:...) makes the build repeatable."),
	slipwayRule(RuleRootUser, Warning, "The final stage sets no USER, or USER root: the container runs as root."),
	slipwayRule(RuleLayers, Warning, "The target stage adds many filesystem layers, or runs several RUN instructions in a row that could be one."),
	slipwayRule(RuleBaseSize, Warning, "The base image is large; a smaller base pulls faster and carries less to patch."),
	slipwayRule(RuleImageRoot, Warning, "The built image runs as root: its config sets no User, or root."),
	slipwayRule(RuleImageLayers, Warning, "The built image has more layers than lint.max-layers."),
	slipwayRule(RuleImageSize, Warning, "The built image is larger than lint.max-image-mb."),
	slipwayRule(RuleImageSecret, Error, "A layer of the built image holds a file that looks like a private key or a credential."),
	slipwayRule(RuleImageLatest, Error, "A manifest runs an image by its :latest tag."),
	slipwayRule(RuleImageUntagged, Error, "A manifest names an image with neither tag nor digest, which means :latest."),
	slipwayRule(RuleImageUnpinned, Info, "A manifest names an image by tag only; a digest pins exactly what runs."),
	slipwayRule(RulePullPolicy, Warning, "A manifest runs a :latest image with imagePullPolicy IfNotPresent or Never, so nodes keep whatever they pulled first."),
}

// RuleByID returns slipway's rule called id.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

func (r Rule) finding(file string, line, col int, msg string) Finding {
	return Finding{File: file, Line: line, Column: col, Rule: r.ID, Severity: r.Severity, Message: msg, URL: r.URL, Source: r.Source}
}

// at makes a finding of slipway's rule id.
func at(id, file string, line, col int, msg string) Finding {
	r, ok := RuleByID(id)
	if !ok {
		panic("lint: unknown rule " + id)
	}
	return r.finding(file, line, col, msg)
}
