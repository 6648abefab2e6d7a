package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/slipway-build/slipway/builder"
	"github.com/slipway-build/slipway/internal/project"
)

// extraChecks are the checks of optional sections of the project file.
func extraChecks(ctx context.Context, env Env, cfg *project.Config) []Check {
	if cfg == nil {
		return nil
	}
	var out []Check
	out = append(out, checkNodes(ctx, env, cfg)...)
	return out
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
