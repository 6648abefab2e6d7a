package scaffold

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/slipway-build/slipway/internal/project"
)

// PlaceholderRegistry is written when no manifest names one of the images.
const PlaceholderRegistry = "registry.example.com/change-me"

// Tags is the tag convention init writes: the semantic version of a v*
// tag at HEAD, when there is one, and always the short commit.
var Tags = []string{"{{.Version}}", "{{.ShortCommit}}"}

// Render writes the commented slipway.yaml for p, and checks that it loads
// as a project file: init never writes a file slipway would refuse.
func Render(p *Project) ([]byte, error) {
	var b strings.Builder
	b.WriteString("# slipway.yaml, first written by slipway init. Check the lines marked CHECK,\n")
	b.WriteString("# then try: slipway tags; slipway release --dry-run\n")
	b.WriteString("# Reference: docs/config.md of slipway.\n\n")

	reg := p.Registry
	if reg == "" {
		reg = PlaceholderRegistry
		b.WriteString("# CHECK: no manifest names an image of this project; set the registry\n")
		b.WriteString("# (host[:port]/path) the images are pushed to.\n")
	} else {
		fmt.Fprintf(&b, "# Where the images are pushed: what %d of the %d references to them in the\n", p.Votes, p.Total)
		b.WriteString("# manifests use. A list pushes copies to more registries.\n")
	}
	fmt.Fprintf(&b, "registry: %s\n\n", quote(reg))

	b.WriteString("# Every image gets the version of a semver tag at HEAD (v1.2.3 gives 1.2.3),\n")
	b.WriteString("# when there is one, and the short commit. Manifests get the first of them.\n")
	b.WriteString("tags:\n")
	for _, t := range Tags {
		fmt.Fprintf(&b, "  - %s\n", quote(t))
	}
	b.WriteString("\n")

	b.WriteString("images:\n")
	if len(p.Images) == 0 {
		b.WriteString("  # CHECK: no Dockerfile was found; name each image and its build context.\n")
		b.WriteString("  - name: app\n    context: .\n")
	}
	for _, img := range p.Images {
		fmt.Fprintf(&b, "  # from %s\n", filepath.ToSlash(filepath.Join(img.Context, img.Dockerfile)))
		if img.Used == 0 && p.Registry != "" {
			b.WriteString("  # CHECK: no manifest names this image; is the name the one they use?\n")
		}
		fmt.Fprintf(&b, "  - name: %s\n", quote(img.Name))
		fmt.Fprintf(&b, "    context: %s\n", quote(dirPath(img.Context)))
		if img.Dockerfile != "Dockerfile" {
			fmt.Fprintf(&b, "    dockerfile: %s\n", quote(img.Dockerfile))
		}
		b.WriteString("    # platforms: [linux/amd64, linux/arm64]\n")
	}

	paths := append([]string{}, p.Files...)
	for _, d := range p.Dirs {
		paths = append(paths, dirPath(d))
	}
	if len(paths) > 0 || len(p.Charts) > 0 {
		b.WriteString("\n# Files whose references to the images are bumped after a release, only\n")
		b.WriteString("# when every image was pushed (and signed). Other images are left alone.\n")
		b.WriteString("manifests:\n")
	}
	if len(paths) > 0 {
		b.WriteString("  # Kubernetes manifests and kustomizations (folders are searched recursively).\n")
		b.WriteString("  - paths:\n")
		for _, s := range paths {
			fmt.Fprintf(&b, "      - %s\n", quote(s))
		}
		b.WriteString("    pin: tag+digest\n")
	}
	for _, c := range p.Charts {
		for _, v := range c.Values {
			fmt.Fprintf(&b, "  # Helm chart %s: the image fields of its values.\n", c.Dir)
			fmt.Fprintf(&b, "  - paths: [%s]\n", quote(v.File))
			b.WriteString("    rules:\n")
			for _, r := range v.Rules {
				fmt.Fprintf(&b, "      - repository: %s\n", quote(r.Repository))
				if r.Tag != "" {
					fmt.Fprintf(&b, "        tag: %s\n", quote(r.Tag))
				}
				if r.Digest != "" {
					fmt.Fprintf(&b, "        digest: %s\n", quote(r.Digest))
				}
			}
		}
	}
	b.WriteString("\n# Sign every pushed image with cosign (make a key pair with slipway keygen):\n")
	b.WriteString("# sign:\n#   key: cosign.key\n")

	out := []byte(b.String())
	if _, err := project.Parse(project.DefaultFile, p.Root, out, nil); err != nil {
		return nil, fmt.Errorf("checking the file written for %s: %w", p.Root, err)
	}
	return out, nil
}

// Checks are what the user should look at before the first release.
func (p *Project) Checks() []string {
	var out []string
	if p.Registry == "" {
		out = append(out, "registry: no manifest names one of the images; set where they are pushed")
	} else if p.Votes < p.Total {
		out = append(out, fmt.Sprintf("registry: %s is what %d of %d references use; the others name another registry", p.Registry, p.Votes, p.Total))
	}
	if len(p.Images) == 0 {
		out = append(out, "images: no Dockerfile found; the file names a placeholder image \"app\"")
	}
	for _, img := range p.Images {
		if img.Used == 0 {
			out = append(out, fmt.Sprintf("images: no manifest names %q; rename it to the name the manifests use, or it is pushed but bumped nowhere", img.Name))
		}
		if img.Context == "." {
			out = append(out, fmt.Sprintf("images: %q is named after the repository's folder", img.Name))
		}
	}
	if len(p.Dirs)+len(p.Files)+len(p.Charts) == 0 {
		out = append(out, "manifests: none found; add the files to bump under manifests:")
	}
	for _, c := range p.Charts {
		if len(c.Values) == 0 {
			out = append(out, fmt.Sprintf("manifests: Helm chart %s has no image.repository in its values; add rules: for its image fields", c.Dir))
		}
	}
	return out
}

// Summary says what Scan found, one line each.
func (p *Project) Summary() []string {
	var out []string
	for _, img := range p.Images {
		out = append(out, fmt.Sprintf("image %s: %s (%s)", img.Name, filepath.ToSlash(filepath.Join(img.Context, img.Dockerfile)), plural(img.Used, "reference")+" in the manifests"))
	}
	out = append(out, fmt.Sprintf("manifests: %s and %s in %s",
		plural(len(p.Manifests), "file"), plural(len(p.Kustomizations), "kustomization"), strings.Join(append(append([]string{}, p.Files...), p.dirNames()...), ", ")))
	for _, c := range p.Charts {
		n := 0
		for _, v := range c.Values {
			n += len(v.Rules)
		}
		out = append(out, fmt.Sprintf("Helm chart %s: %s", c.Dir, plural(n, "image field")))
	}
	if p.Registry != "" {
		out = append(out, fmt.Sprintf("registry %s (%d of %d references)", p.Registry, p.Votes, p.Total))
	}
	return out
}

func (p *Project) dirNames() []string {
	var out []string
	for _, d := range p.Dirs {
		out = append(out, dirPath(d))
	}
	return out
}

// Write writes data to path whole or not at all; an existing file is an
// ErrExists unless force.
func Write(path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("writing %s: %w", path, ErrExists)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".slipway-init-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func dirPath(d string) string {
	if d == "." {
		return "."
	}
	return d + "/"
}

// quote writes s as a YAML double-quoted string when a plain scalar could
// read as something else.
func quote(s string) string {
	plain := s != "" && !strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") && strings.TrimSpace(s) == s
	if plain {
		switch strings.ToLower(s) {
		case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
			plain = false
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			plain = false
		}
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "?") {
			plain = false
		}
	}
	if plain {
		return s
	}
	return strconv.Quote(s)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
