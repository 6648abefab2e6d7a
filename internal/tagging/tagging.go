// Package tagging turns git facts and tag templates into image references.
//
// It has three steps, each usable alone:
//
//   - [GitFacts] reads the facts of the work tree (commit, branch, tag,
//     version, dirtiness, commit time) by running the git command, and the
//     build number from the CI environment.
//   - [Render] renders the tag templates of slipway.yaml over those facts
//     into a list of valid, distinct tags.
//   - [References] joins a registry, an image name and each tag into a
//     reference parsed and validated by go-containerregistry's name package.
package tagging

import (
	"errors"
	"fmt"
	"time"
)

// Facts are what tag templates can read. GitFacts fills them; every string
// fact it sets is already tag-safe (see SafeTag), so a template that prints
// one alone yields a valid tag.
type Facts struct {
	// Commit is the full hash of HEAD; ShortCommit its first 7 characters.
	Commit, ShortCommit string
	// Branch is the checked-out branch. On a detached HEAD (CI checkouts)
	// it comes from the first set of GITHUB_HEAD_REF, GITHUB_REF_NAME,
	// CI_COMMIT_REF_NAME and BRANCH_NAME; a variable is skipped when the
	// same CI says the ref is a tag (GITHUB_REF_TYPE=tag, CI_COMMIT_TAG or
	// TAG_NAME set). Otherwise it is empty. It is made tag-safe with SafeTag:
	// feature/x becomes feature-x.
	Branch string
	// Tag is the git tag at HEAD. When several tags point at HEAD, the one
	// with the highest semantic version wins; without any semver tag, the
	// first in name order. A "+" (semver build metadata) becomes "_", the
	// convention Helm uses for OCI tags, then SafeTag applies.
	Tag string
	// Version is Tag without its leading "v" when Tag is a semantic version
	// (2.0.0 rules; "v" optional), with "+" turned into "_". It is empty when
	// Tag is not a semantic version: a tag such as "nightly" gives no
	// version. Major, Minor, Patch and Prerelease are its parts;
	// Prerelease is empty for a release.
	Version, Major, Minor, Patch, Prerelease string
	// Describe is `git describe --tags --always` (without --dirty: a dirty
	// tree is marked by Render's "-dirty" rule instead), made tag-safe like Tag.
	Describe string
	// Date is the commit date, UTC, as 20060102.
	Date string
	// Timestamp is the commit time in unix seconds.
	Timestamp string
	// BuildNumber is the first set of GITHUB_RUN_NUMBER, CI_PIPELINE_IID
	// and BUILD_NUMBER, made tag-safe. It does not need git.
	BuildNumber string
	// Dirty reports uncommitted changes, untracked files included (they
	// reach the build context); ignored files do not count.
	Dirty bool
	// CommitTime is the committer time of HEAD, in UTC; the value for
	// SOURCE_DATE_EPOCH and the OCI "created" annotation. Not a template fact.
	CommitTime time.Time
	// InRepo reports whether the folder is inside a git work tree. Not a
	// template fact: templates that read git facts fail when it is false.
	InRepo bool
}

// maxTagLen is the longest tag the OCI distribution spec allows.
const maxTagLen = 128

// SafeTag makes an arbitrary string, such as a branch name, usable as a
// tag: every character outside [A-Za-z0-9._-] (a "/" included) becomes
// "-", leading "." and "-" are removed because a tag must start with
// [A-Za-z0-9_], and the result is cut to 128 characters. It returns ""
// when nothing usable is left.
func SafeTag(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if len(b) == maxTagLen {
			break
		}
		switch {
		case isTagStart(r):
			b = append(b, byte(r))
		case r == '.' || r == '-':
			if len(b) > 0 {
				b = append(b, byte(r))
			}
		default:
			if len(b) > 0 {
				b = append(b, '-')
			}
		}
	}
	return string(b)
}

func isTagStart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// checkTag reports why s is not a valid tag, [A-Za-z0-9_][A-Za-z0-9._-]{0,127},
// without quoting s (it may hold the value of an environment variable).
func checkTag(s string) error {
	if s == "" {
		return errors.New("a tag cannot be empty")
	}
	if len(s) > maxTagLen {
		return fmt.Errorf("a tag has at most %d characters, this one has %d", maxTagLen, len(s))
	}
	for i, r := range s {
		if isTagStart(r) || i > 0 && (r == '.' || r == '-') {
			continue
		}
		if i == 0 {
			return fmt.Errorf("a tag must start with a letter, digit or _, not %q", r)
		}
		return fmt.Errorf("character %q at position %d is not allowed in a tag (only A-Z a-z 0-9 _ . -)", r, i+1)
	}
	return nil
}
