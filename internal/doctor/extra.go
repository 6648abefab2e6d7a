package doctor

import (
	"context"

	"github.com/slipway-build/slipway/internal/project"
)

// extraChecks are the checks of optional sections of the project file.
func extraChecks(ctx context.Context, env Env, cfg *project.Config) []Check {
	return nil
}
