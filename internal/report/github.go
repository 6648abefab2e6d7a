package report

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// WriteGitHub appends step outputs to $GITHUB_OUTPUT and a Markdown table to
// $GITHUB_STEP_SUMMARY, each only when its variable is set. reportPath is
// given as the `report` output when not empty.
func WriteGitHub(getenv func(string) string, r *Report, reportPath string) error {
	if p := getenv("GITHUB_OUTPUT"); p != "" {
		if err := appendFile(p, func(w io.Writer) error { return Outputs(w, r, reportPath) }); err != nil {
			return fmt.Errorf("writing GITHUB_OUTPUT: %w", err)
		}
	}
	if p := getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if err := appendFile(p, func(w io.Writer) error { return Summary(w, r) }); err != nil {
			return fmt.Errorf("writing GITHUB_STEP_SUMMARY: %w", err)
		}
	}
	return nil
}

func appendFile(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// OutputName makes an image name usable in an output name: digest-team-web.
func OutputName(image string) string {
	return strings.NewReplacer("/", "-", ".", "-").Replace(image)
}

// Outputs writes GitHub Actions outputs: digest-<image>, ref-<image> (the
// primary reference pinned by digest), digests and refs (the same as JSON
// objects by image name, for fromJSON) and report.
func Outputs(w io.Writer, r *Report, reportPath string) error {
	var b strings.Builder
	digests, refs := map[string]string{}, map[string]string{}
	for _, img := range r.Images {
		n := OutputName(img.Name)
		if img.Digest != "" {
			writeOutput(&b, "digest-"+n, img.Digest)
			digests[img.Name] = img.Digest
		}
		if ref := img.PrimaryRef(); ref != "" {
			writeOutput(&b, "ref-"+n, ref)
			refs[img.Name] = ref
		}
	}
	if len(digests) > 0 {
		writeOutput(&b, "digests", jsonObject(digests))
	}
	if len(refs) > 0 {
		writeOutput(&b, "refs", jsonObject(refs))
	}
	if reportPath != "" {
		writeOutput(&b, "report", reportPath)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonObject is m as compact JSON with sorted keys.
func jsonObject(m map[string]string) string {
	b, _ := json.Marshal(m) // maps of strings always marshal; keys come out sorted
	return string(b)
}

// writeOutput writes name=value, or the heredoc form when value has a newline.
func writeOutput(b *strings.Builder, name, value string) {
	if !strings.ContainsAny(value, "\r\n") {
		fmt.Fprintf(b, "%s=%s\n", name, value)
		return
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	delim := "SLIPWAY_EOF_" + hex.EncodeToString(nonce[:])
	fmt.Fprintf(b, "%s<<%s\n%s\n%s\n", name, delim, value, delim)
}

// PrimaryRef is the first planned reference with the digest, or "".
func (img *Image) PrimaryRef() string {
	if len(img.Refs) == 0 {
		return ""
	}
	if img.Digest == "" {
		return img.Refs[0]
	}
	return img.Refs[0] + "@" + img.Digest
}

// Summary writes the Markdown step summary: images, digests, signatures
// and changed files.
func Summary(w io.Writer, r *Report) error {
	var b strings.Builder
	title := "slipway " + r.Command
	if r.DryRun {
		title += " (dry run)"
	}
	if !r.Success {
		title += ": failed"
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	if r.Error != "" {
		fmt.Fprintf(&b, "> %s\n\n", md(r.Error))
	}
	if len(r.Images) > 0 {
		b.WriteString("| image | references | digest | signed |\n|---|---|---|---|\n")
		for _, img := range r.Images {
			refs := img.Refs
			if len(img.Pushed) > 0 {
				refs = make([]string, len(img.Pushed))
				for i, p := range img.Pushed {
					refs[i], _, _ = strings.Cut(p, "@")
				}
			}
			signed := "no"
			if len(img.Signatures) > 0 {
				signed = fmt.Sprintf("yes (%d)", len(img.Signatures))
			}
			digest := "-" // an empty code span would show as two backticks
			if img.Digest != "" {
				digest = "`" + img.Digest + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", md(img.Name), code(refs), digest, signed)
		}
		b.WriteString("\n")
	}
	if len(r.Manifests) > 0 {
		b.WriteString("| changed file | edits |\n|---|---|\n")
		for _, m := range r.Manifests {
			fmt.Fprintf(&b, "| %s | %d |\n", md(m.File), len(m.Edits))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func code(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, "<br>")
}

func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", "").Replace(s)
}
