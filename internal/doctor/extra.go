package doctor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/scan"
)

// extraChecks are the checks of optional sections of the project file.
func extraChecks(ctx context.Context, env Env, cfg *project.Config) []Check {
	if cfg == nil {
		return nil
	}
	var out []Check
	out = append(out, checkNodes(ctx, env, cfg)...)
	out = append(out, checkScanner(ctx, env, cfg))
	return out
}

// checkScanner finds the scanner scan: asks for, and its offline database
// when scan.db names one.
func checkScanner(ctx context.Context, env Env, cfg *project.Config) Check {
	c := Check{Name: "scanner"}
	switch {
	case cfg.Scan == nil:
		c.Status, c.Message = Skipped, "scan: is not set; images are not scanned"
		return c
	case !cfg.Scanning():
		c.Status, c.Message = Skipped, "scan.skip is true"
		return c
	}
	p, err := scan.Find()
	if err != nil {
		c.Status, c.Message = Error, err.Error()
		c.Fix = firstHint(err, "install trivy on PATH, or set scan.skip: true")
		return c
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	version := "(version unknown)"
	if out, err := exec.CommandContext(ctx, p, "--version").Output(); err == nil {
		if first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); first != "" {
			version = first
		}
	}
	c.Status, c.Message = OK, p+": "+version
	if db := cfg.Scan.DB; db != "" {
		if _, err := os.Stat(filepath.Join(db, "db", "trivy.db")); err != nil {
			c.Status = Error
			c.Message += "; scan.db " + db + " holds no db/trivy.db"
			c.Fix = "prepare the database there (trivy image --download-db-only --cache-dir " + db + "), or remove scan.db to let Trivy download it"
		} else {
			c.Message += ", offline database in " + db
		}
	} else {
		c.Status = Warning
		c.Message += "; no scan.db: Trivy downloads its database at the first scan"
		c.Fix = "on a runner without internet, prepare a database and name its folder in scan.db"
	}
	return c
}

// checkNodes connects to each BuildKit node of buildkit.nodes, which
// builds the platforms it declares.
func checkNodes(ctx context.Context, env Env, cfg *project.Config) []Check {
	var out []Check
	for _, n := range cfg.Buildkit.Nodes {
		c := Check{Name: fmt.Sprintf("buildkit node %s (%s)", n.Host, strings.Join(n.Platforms, ", "))}
		var tls *builder.TLSFiles
		if n.CA != "" || n.Cert != "" || n.Key != "" {
			tls = &builder.TLSFiles{CA: n.CA, Cert: n.Cert, Key: n.Key}
		}
		v, err := builder.Probe(ctx, n.Host, tls, env.Timeout)
		if err != nil {
			c.Status, c.Message = Error, err.Error()
			c.Fix = firstHint(err, "start buildkitd at "+n.Host+", or remove the node from buildkit.nodes")
		} else {
			c.Status, c.Message = OK, "BuildKit "+orUnknown(v)+" answers"
		}
		out = append(out, c)
	}
	return out
}
