package manifest

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// Image is the new value for every reference to a repository.
type Image struct {
	// Repository is where the image now lives, e.g.
	// "registry.example.com:5000/team/web". Repositories are compared after
	// go-containerregistry's normalisation: nginx, docker.io/library/nginx
	// and index.docker.io/library/nginx are the same repository.
	Repository string
	// Tag is the new tag, without the colon. It may be empty.
	Tag string
	// Digest is the new digest, "sha256:<hex>". It may be empty.
	// At least one of Tag and Digest must be set.
	Digest string
	// Match names the repository whose references are rewritten. Empty means
	// Repository. When Match and Repository differ, matching references are
	// moved to Repository (the `--set OLD=NEW` case); otherwise the file's own
	// spelling of the repository is kept and only the tag and digest change.
	Match string
}

// Pin says how a rewritten reference names its image.
type Pin string

const (
	// PinTag writes repo:tag. When the image has no tag, the digest is
	// written instead (repo@digest): a digest is never less precise.
	PinTag Pin = "tag"
	// PinDigest writes repo@digest. Rewriting a reference to an image
	// without a digest is an error: silently writing a mutable tag would
	// break the promise of the pin.
	PinDigest Pin = "digest"
	// PinTagDigest writes repo:tag@digest. When only one of tag and digest
	// is known, only that one is written. It is the default.
	PinTagDigest Pin = "tag+digest"
)

// ParsePin checks a pin mode as a user writes it ("", "tag", "digest",
// "tag+digest"); "" stands for the default, PinTagDigest.
func ParsePin(s string) (Pin, error) {
	switch Pin(s) {
	case "":
		return PinTagDigest, nil
	case PinTag, PinDigest, PinTagDigest:
		return Pin(s), nil
	}
	return "", fmt.Errorf("pin %q: want tag, digest or tag+digest", s)
}

// ParseImage reads "REF" (repository with a tag and/or digest) into an Image.
// The repository is kept as written.
func ParseImage(ref string) (Image, error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return Image{}, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	img := Image{Repository: repoSpelling(ref)}
	rest := ref[len(img.Repository):]
	if at := strings.IndexByte(rest, '@'); at >= 0 {
		img.Digest = rest[at+1:]
		rest = rest[:at]
	}
	img.Tag = strings.TrimPrefix(rest, ":")
	if img.Tag == "" && img.Digest == "" {
		// name.ParseReference defaulted to :latest; say so in the value
		// that will be written rather than writing a bare repository.
		img.Tag = r.Identifier()
	}
	return img, nil
}

// ParseSet reads the argument of `--set REPO=REF`: references to REPO are
// rewritten to REF, which may name another repository (a move).
func ParseSet(s string) (Image, error) {
	repo, ref, ok := strings.Cut(s, "=")
	if !ok || repo == "" || ref == "" {
		return Image{}, fmt.Errorf("%q: want REPO=REF", s)
	}
	if _, err := name.NewRepository(repo, name.WeakValidation); err != nil {
		return Image{}, fmt.Errorf("%q: repository %q: %w", s, repo, err)
	}
	img, err := ParseImage(ref)
	if err != nil {
		return Image{}, fmt.Errorf("%q: %w", s, err)
	}
	img.Match = repo
	return img, nil
}

var (
	// Compiled on first use, not at start-up: most runs never check a digest.
	digestRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$`)
	})
	policies = map[string]bool{"Always": true, "IfNotPresent": true, "Never": true}
)

// validTag reports whether s matches [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, the
// tag grammar of the distribution spec (a loop: the regexp's bounded
// repetition is costly to compile).
func validTag(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// target is a validated Image with its normalised names.
type target struct {
	key     string // the normalised repository it matches
	img     Image
	moved   bool // Match and Repository differ after normalisation
	newRepo string
}

// compiled is what every file of a plan shares: images by normalised
// repository, and the checked options.
type compiled struct {
	byRepo map[string]*target
	opts   Options
	pin    Pin
	rules  []rule
}

func compile(images []Image, opts Options) (*compiled, error) {
	c := &compiled{byRepo: map[string]*target{}, opts: opts}
	pin, err := ParsePin(string(opts.Pin))
	if err != nil {
		return nil, err
	}
	c.pin = pin
	if opts.PullPolicy != "" && !policies[opts.PullPolicy] {
		return nil, fmt.Errorf("pull policy %q: want Always, IfNotPresent or Never", opts.PullPolicy)
	}
	for _, img := range images {
		repo, err := name.NewRepository(img.Repository, name.WeakValidation)
		if err != nil {
			return nil, fmt.Errorf("image repository %q: %w", img.Repository, err)
		}
		if strings.ContainsAny(img.Repository, ":@") && repoSpelling(img.Repository) != img.Repository {
			return nil, fmt.Errorf("image repository %q: give the tag and digest separately", img.Repository)
		}
		match := repo
		if img.Match != "" {
			if match, err = name.NewRepository(img.Match, name.WeakValidation); err != nil {
				return nil, fmt.Errorf("image match %q: %w", img.Match, err)
			}
		}
		if img.Tag == "" && img.Digest == "" {
			return nil, fmt.Errorf("image %s: neither tag nor digest given", img.Repository)
		}
		if img.Tag != "" && !validTag(img.Tag) {
			return nil, fmt.Errorf("image %s: invalid tag %q", img.Repository, img.Tag)
		}
		if img.Digest != "" && !digestRE().MatchString(img.Digest) {
			return nil, fmt.Errorf("image %s: invalid digest %q", img.Repository, img.Digest)
		}
		key := match.Name()
		if _, dup := c.byRepo[key]; dup {
			return nil, fmt.Errorf("image %s: given twice", key)
		}
		c.byRepo[key] = &target{key: key, img: img, moved: repo.Name() != key, newRepo: img.Repository}
	}
	for key, t := range c.byRepo {
		if !t.moved {
			continue
		}
		to, _ := name.NewRepository(t.newRepo, name.WeakValidation)
		if next, ok := c.byRepo[to.Name()]; ok && next != t {
			return nil, fmt.Errorf("image %s moves to %s, which is moved in turn", key, t.newRepo)
		}
	}
	for i, r := range opts.Rules {
		cr, err := compileRule(r)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i+1, err)
		}
		c.rules = append(c.rules, cr)
	}
	return c, nil
}

// lookup finds the target for a repository name as a file spells it.
// ok is false when the text is not a reference or names another repository.
func (c *compiled) lookupRef(s string) (*target, bool) {
	if s == "" || len(c.byRepo) == 0 {
		return nil, false
	}
	repo, ok := refRepos.Load(s)
	if !ok {
		r, err := name.ParseReference(s, name.WeakValidation)
		if err != nil {
			repo = ""
		} else {
			repo = r.Context().Name()
		}
		if len(s) <= 256 {
			refRepos.Store(strings.Clone(s), repo)
		}
	}
	if repo == "" {
		return nil, false
	}
	t, ok := c.byRepo[repo.(string)]
	return t, ok
}

// refRepos caches the normalised repository of references ("" for text
// that is not one): the same few images appear in file after file.
var refRepos sync.Map

func (c *compiled) lookupRepo(s string) (*target, bool) {
	if s == "" || len(c.byRepo) == 0 {
		return nil, false
	}
	r, err := name.NewRepository(s, name.WeakValidation)
	if err != nil {
		return nil, false
	}
	t, ok := c.byRepo[r.Name()]
	return t, ok
}

// parts returns the tag and digest to write under the pin; an empty string
// means "not written".
func (c *compiled) parts(t *target) (tag, digest string, err error) {
	tag, digest = t.img.Tag, t.img.Digest
	switch c.pin {
	case PinTag:
		if tag != "" {
			digest = ""
		}
	case PinDigest:
		if digest == "" {
			return "", "", fmt.Errorf("pin digest: no digest known for %s (only tag %s)", t.img.Repository, tag)
		}
		tag = ""
	}
	return tag, digest, nil
}

// newRef is the new text of a full reference that the file spells old.
func (c *compiled) newRef(t *target, old string) (string, error) {
	repo := t.newRepo
	if !t.moved {
		repo = repoSpelling(old)
	}
	tag, digest, err := c.parts(t)
	if tag != "" {
		repo += ":" + tag
	}
	if digest != "" {
		repo += "@" + digest
	}
	return repo, err
}

// repoSpelling returns the repository part of a reference as written:
// without ":tag" and "@digest".
func repoSpelling(ref string) string {
	if at := strings.IndexByte(ref, '@'); at >= 0 {
		ref = ref[:at]
	}
	if colon := strings.LastIndexByte(ref, ':'); colon > strings.LastIndexByte(ref, '/') {
		ref = ref[:colon]
	}
	return ref
}
