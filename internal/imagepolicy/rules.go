package imagepolicy

import "fmt"

// Severity orders findings; the zero value is Info.
type Severity int

const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Kind names one fact a Ruleset reports, whatever rule id the tool gives it.
type Kind int

const (
	// KindLatest: the reference is :latest without a digest.
	KindLatest Kind = iota + 1
	// KindUntagged: neither tag nor digest.
	KindUntagged
	// KindUnpinned: a tag other than latest, no digest.
	KindUnpinned
	// KindPullPolicy: the pull policy lets nodes run another image than
	// the reference means, or is not a valid policy.
	KindPullPolicy
)

// Rule is how a tool reports one Kind. An empty ID turns the rule off.
type Rule struct {
	ID       string
	Severity Severity
}

// Ruleset maps the facts onto one tool's rules.
type Ruleset struct {
	Latest, Untagged, Unpinned, PullPolicy Rule
}

// Lint is the ruleset of `slipway lint`.
var Lint = Ruleset{
	Latest:     Rule{ID: "image-latest", Severity: Error},
	Untagged:   Rule{ID: "image-untagged", Severity: Error},
	Unpinned:   Rule{ID: "image-unpinned", Severity: Info},
	PullPolicy: Rule{ID: "pull-policy", Severity: Warning},
}

// Verify is the ruleset of `slipway verify`; --require-digest raises
// Unpinned to Error.
var Verify = Ruleset{
	Latest:     Rule{ID: "pinned", Severity: Error},
	Untagged:   Rule{ID: "pinned", Severity: Error},
	Unpinned:   Rule{ID: "pinned", Severity: Warning},
	PullPolicy: Rule{ID: "pull-policy", Severity: Warning},
}

// Finding is one judgement about a reference.
type Finding struct {
	Kind     Kind
	Rule     string
	Severity Severity
	Message  string
	// Hint says what to do, "" when the message says it.
	Hint string
}

// Check judges a reference and the imagePullPolicy written beside it
// ("" when none is): first its pinning, then its pull policy. A reference
// pinned by digest has no pinning finding. The finding about a tag without
// digest pulled IfNotPresent is left out when the Unpinned rule already
// reports that tag at warning or above: it would say the same thing twice.
func (rs Ruleset) Check(r Ref, pullPolicy string) []Finding {
	var out []Finding
	add := func(k Kind, rule Rule, msg, hint string) {
		if rule.ID != "" {
			out = append(out, Finding{Kind: k, Rule: rule.ID, Severity: rule.Severity, Message: msg, Hint: hint})
		}
	}
	switch r.Pinning {
	case Latest:
		add(KindLatest, rs.Latest, "the tag latest names whatever was pushed last; nodes may run different images",
			"name a version tag, or pin the digest (slipway bump)")
	case Untagged:
		add(KindUntagged, rs.Untagged, "no tag: the node pulls :latest, whatever was pushed last",
			"name a version tag, or pin the digest (slipway bump)")
	case Tag:
		add(KindUnpinned, rs.Unpinned, fmt.Sprintf("tag %s without a digest can be moved to another image", r.Tag),
			"pin the digest as tag@digest (slipway bump, pin: tag+digest)")
	}
	if f, ok := rs.pullPolicy(r, pullPolicy); ok {
		out = append(out, f)
	}
	return out
}

func (rs Ruleset) pullPolicy(r Ref, explicit string) (Finding, bool) {
	rule := rs.PullPolicy
	if rule.ID == "" {
		return Finding{}, false
	}
	f := Finding{Kind: KindPullPolicy, Rule: rule.ID, Severity: rule.Severity}
	switch {
	case explicit != "" && !ValidPullPolicy(explicit):
		f.Severity = Error
		f.Message = fmt.Sprintf("imagePullPolicy %q is not one of Always, IfNotPresent, Never; the API server refuses it", explicit)
		return f, true
	case explicit == Never:
		f.Message = "imagePullPolicy Never runs only an image already on the node; a node without it fails with ErrImageNeverPull"
		f.Hint = "use IfNotPresent with a digest, unless the image is preloaded on every node"
		return f, true
	case explicit == IfNotPresent && (r.Pinning == Latest || r.Pinning == Untagged):
		f.Message = "imagePullPolicy IfNotPresent with :latest: a node that has an old copy never sees a new push (Kubernetes' default here is Always)"
		f.Hint = "pin a digest, or drop imagePullPolicy"
		return f, true
	case r.Pinning == Tag && EffectivePullPolicy(r, explicit) == IfNotPresent:
		if rs.Unpinned.ID != "" && rs.Unpinned.Severity >= Warning {
			return Finding{}, false
		}
		how := "defaulted"
		if explicit != "" {
			how = "explicit"
		}
		f.Message = fmt.Sprintf("imagePullPolicy IfNotPresent (%s) with tag %s and no digest: nodes keep the image they pulled first, even after the tag moves", how, r.Tag)
		f.Hint = "pin the digest as tag@digest"
		return f, true
	}
	return Finding{}, false
}
