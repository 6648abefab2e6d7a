package release

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipway-build/slipway/pusher"
)

// MovedTag is a tag that names one commit or version and already points
// at another digest than the one about to be pushed.
type MovedTag struct {
	Ref      string
	Old, New string
}

// MovedTagsError refuses a push that would move such tags.
type MovedTagsError struct{ Tags []MovedTag }

func (e *MovedTagsError) Error() string {
	m := e.Tags[0]
	more := ""
	if len(e.Tags) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(e.Tags)-1)
	}
	return fmt.Sprintf("%s already points at %s, not %s; immutable tags are not moved%s", m.Ref, m.Old, m.New, more)
}

// Hint says what to do.
func (e *MovedTagsError) Hint() string {
	return "the same commit or version was built with other inputs: commit the change and release again, or drop immutable_tags (--immutable-tags) to move it with a warning"
}

// movedTags looks up, for each image, the tags that must not move and
// reports those that point at another digest than digests[i].
func movedTags(ctx context.Context, plan *Plan, digests []string, insecure []string, ro []remote.Option) ([]MovedTag, error) {
	var moved []MovedTag
	for i, img := range plan.Images {
		for _, ref := range img.Refs {
			if !img.Immutable[ref.TagStr()] {
				continue
			}
			// Parsed again so that listed plain-HTTP registries are reached as the pusher reaches them.
			t, err := name.NewTag(ref.String(), nameOptions(insecure, ref.String())...)
			if err != nil {
				return nil, err
			}
			desc, err := remote.Head(t, append(ro, remote.WithContext(ctx))...)
			if err != nil {
				// Not known: the push that follows reports the registry's
				// trouble with its retries and hints.
				continue
			}
			if d := desc.Digest.String(); d != digests[i] {
				moved = append(moved, MovedTag{Ref: ref.String(), Old: d, New: digests[i]})
			}
		}
	}
	return moved, nil
}

// guard is the pusher's Guard for img: of the tags found pointing at
// another digest, those that name one commit or version are refused when
// refuse is set, else passed to warn; the others move by design.
func guard(img PlannedImage, refuse bool, warn func(string)) func([]pusher.Move) error {
	return func(moves []pusher.Move) error {
		var moved []MovedTag
		for _, m := range moves {
			if img.Immutable[m.Ref.TagStr()] {
				moved = append(moved, MovedTag{Ref: m.Ref.String(), Old: m.Old, New: m.New})
			}
		}
		return refuseOrWarn(moved, refuse, warn)
	}
}

func refuseOrWarn(moved []MovedTag, refuse bool, warn func(string)) error {
	if len(moved) == 0 {
		return nil
	}
	if refuse {
		return &MovedTagsError{Tags: moved}
	}
	if warn != nil {
		for _, m := range moved {
			warn(fmt.Sprintf("%s moves from %s to %s: this tag names one commit or version, and the same commit was built with other inputs", m.Ref, m.Old, m.New))
		}
	}
	return nil
}
