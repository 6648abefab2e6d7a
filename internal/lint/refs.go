package lint

import (
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// refParts splits an image reference with go-containerregistry into the
// repository, the tag as written ("" when none) and the digest ("" when
// none).
func refParts(s string) (repo, tag, dgst string, err error) {
	base := s
	if strings.Contains(s, "@") {
		d, err := name.NewDigest(s, name.WeakValidation)
		if err != nil {
			return "", "", "", err
		}
		dgst = d.DigestStr()
		base = s[:strings.LastIndex(s, "@")]
	}
	t, err := name.NewTag(base, name.WeakValidation, name.WithDefaultTag(""))
	if err != nil {
		return "", "", "", err
	}
	return t.Repository.Name(), t.TagStr(), dgst, nil
}
