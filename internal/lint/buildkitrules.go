package lint

import "github.com/moby/buildkit/frontend/dockerfile/linter"

func buildkitRule[F any](r *linter.LinterRule[F]) Rule {
	return Rule{ID: r.Name, Severity: Warning, Description: r.Description, URL: r.URL, Source: SourceBuildKit}
}

// BuildKitRules are the build checks of the BuildKit version slipway is
// built with; their names, descriptions and URLs are BuildKit's. A
// finding of one is a warning, or an error under # check=error=true.
var BuildKitRules = []Rule{
	buildkitRule(&linter.RuleStageNameCasing),
	buildkitRule(&linter.RuleFromAsCasing),
	buildkitRule(&linter.RuleNoEmptyContinuation),
	buildkitRule(&linter.RuleConsistentInstructionCasing),
	buildkitRule(&linter.RuleDuplicateStageName),
	buildkitRule(&linter.RuleReservedStageName),
	buildkitRule(&linter.RuleJSONArgsRecommended),
	buildkitRule(&linter.RuleMaintainerDeprecated),
	buildkitRule(&linter.RuleUndefinedArgInFrom),
	buildkitRule(&linter.RuleWorkdirRelativePath),
	buildkitRule(&linter.RuleUndefinedVar),
	buildkitRule(&linter.RuleMultipleInstructionsDisallowed),
	buildkitRule(&linter.RuleLegacyKeyValueFormat),
	buildkitRule(&linter.RuleInvalidBaseImagePlatform),
	buildkitRule(&linter.RuleRedundantTargetPlatform),
	buildkitRule(&linter.RuleSecretsUsedInArgOrEnv),
	buildkitRule(&linter.RuleInvalidDefaultArgInFrom),
	buildkitRule(&linter.RuleFromPlatformFlagConstDisallowed),
	buildkitRule(&linter.RuleCopyIgnoredFile),
	buildkitRule(&linter.RuleInvalidDefinitionDescription),
	buildkitRule(&linter.RuleExposeProtoCasing),
	buildkitRule(&linter.RuleExposeInvalidFormat),
}

// knownRule returns the rule called id, slipway's or BuildKit's.
func knownRule(id string) (Rule, bool) {
	if r, ok := RuleByID(id); ok {
		return r, true
	}
	for _, r := range BuildKitRules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

func ruleNames() []string {
	var out []string
	for _, r := range Rules {
		out = append(out, r.ID)
	}
	for _, r := range BuildKitRules {
		out = append(out, r.ID)
	}
	return out
}
