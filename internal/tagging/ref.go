package tagging

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// References returns registry + "/" + imageName + ":" + tag for each tag,
// parsed and validated by go-containerregistry's name package. registry is
// a host with an optional port and path (localhost:5000,
// registry.example.com/team); imageName may be nested (tools/worker).
//
// Validation is strict: the first part of registry must be a registry host
// (one with a dot or a port, or localhost), never left for the name package
// to default to Docker Hub. Beyond what the name package checks, each part
// of the repository path must match the distribution spec's
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, which registries enforce: "a//b",
// "-web" and "web." are refused here rather than at push time. A trailing
// "/" on registry is ignored. err joins one error per bad reference.
func References(registry, imageName string, tags []string) ([]name.Tag, error) {
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" {
		return nil, errors.New("image references need a registry")
	}
	// Check the registry once, with a stand-in image name, so that a bad
	// registry is one error rather than one per tag.
	if _, err := name.NewRepository(registry+"/x", name.StrictValidation); err != nil {
		// Without a default registry, a registry left to default shows as "".
		if weak, werr := name.NewRepository(registry+"/x", name.WithDefaultRegistry("")); werr == nil && weak.RegistryStr() == "" {
			return nil, fmt.Errorf("registry %q does not start with a registry host (one with a dot or a port, or localhost)", registry)
		}
		return nil, fmt.Errorf("registry %q: %w", registry, err)
	}
	refs := make([]name.Tag, 0, len(tags))
	var errs []error
	for _, tag := range tags {
		s := registry + "/" + imageName + ":" + tag
		if err := checkTag(tag); err != nil {
			errs = append(errs, fmt.Errorf("reference %q: %w", s, err))
			continue
		}
		ref, err := name.NewTag(s, name.StrictValidation)
		if err != nil {
			errs = append(errs, fmt.Errorf("reference %q: %w", s, err))
			continue
		}
		if err := checkPath(ref.RepositoryStr()); err != nil {
			errs = append(errs, fmt.Errorf("reference %q: %w", s, err))
			continue
		}
		refs = append(refs, ref)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return refs, nil
}

// pathComponent is the distribution spec's grammar for one part of a
// repository path, compiled on first use.
var pathComponent = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$`)
})

// checkPath checks each "/"-separated part of a repository path that the
// name package has already parsed and checked for characters.
func checkPath(repo string) error {
	for _, part := range strings.Split(repo, "/") {
		if !pathComponent().MatchString(part) {
			return fmt.Errorf("repository path part %q must be lowercase letters and digits, separated by ., _, __ or dashes", part)
		}
	}
	return nil
}

// CheckRepositoryPath checks an image name (a repository path below the
// registry, such as web or tools/worker) against the distribution spec's
// grammar, the same rule References applies.
func CheckRepositoryPath(path string) error {
	if strings.ToLower(path) != path {
		return errors.New("it must be lowercase")
	}
	for _, part := range strings.Split(path, "/") {
		if part == "" {
			return errors.New("empty path component")
		}
	}
	return checkPath(path)
}
