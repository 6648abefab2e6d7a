package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/sign"
)

func init() {
	register(command{
		name:    "tags",
		args:    "[IMAGE...]",
		summary: "print the plan: every reference each image will get",
		long: `Renders the tag templates of slipway.yaml over the git facts of the
project folder and prints one full reference per line: images in file
order, registries primary first, tags in template order.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			asJSON := fs.Bool("json", false, "print the plan as a JSON document")
			registries := fs.StringArray("registry", nil, "push to `REG` instead of the project's registries (repeatable)")
			return func(ctx context.Context, a *app, args []string) error {
				plan, err := a.plan(ctx, args, *registries, *asJSON)
				if err != nil {
					return err
				}
				if *asJSON {
					return writePlanJSON(a, plan)
				}
				for _, img := range plan.Images {
					for _, ref := range img.Refs {
						fmt.Fprintln(a.stdout, ref.String())
					}
				}
				return nil
			}
		},
	})
}

// plan loads the project and renders the plan, printing its warnings;
// dirty asks for the work tree's status even when no tag depends on it.
func (a *app) plan(ctx context.Context, only, registries []string, dirty bool) (*release.Plan, error) {
	cfg, err := a.loadProject()
	if err != nil {
		return nil, err
	}
	return a.planWith(ctx, cfg, release.PlanOptions{Only: only, Registries: registries, RecordDirty: dirty, TagsOnly: !dirty})
}

// planFor renders the plan of a loaded project, printing its warnings. The
// work tree's status is read when a tag depends on it or a report records
// it; a push that writes no report needs git only for its tags.
func (a *app) planFor(ctx context.Context, cfg *project.Config, only, registries []string) (*release.Plan, error) {
	return a.planWith(ctx, cfg, release.PlanOptions{Only: only, Registries: registries, RecordDirty: a.report != "",
		TagsOnly: a.cmd == "push" && a.report == ""})
}

// hidePlan masks the plan's build secrets and registry credentials in
// what is printed from now on (tags prints only the plan, and reads none).
func (a *app) hidePlan(cfg *project.Config, plan *release.Plan) {
	if a.cmd != "tags" {
		a.hide(release.Secrets(cfg, plan, release.Options{Getenv: a.getenv}))
		a.hide([]string{a.getenv(sign.PasswordEnv)}) // the signing key's password
	}
}

func (a *app) planWith(ctx context.Context, cfg *project.Config, opts release.PlanOptions) (*release.Plan, error) {
	opts.Getenv = a.getenv
	opts.ReportPath = a.reportPath()
	plan, err := release.PlanProject(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	a.hidePlan(cfg, plan)
	for _, w := range plan.Warnings {
		a.warnf("%s", w)
	}
	for _, img := range plan.Images {
		for _, f := range img.DirtyFiles {
			a.debugf("image %s is dirty: %s", img.Name, a.rel(f))
		}
	}
	return plan, nil
}

type planJSON struct {
	SchemaVersion int             `json:"schemaVersion"`
	Commit        string          `json:"commit,omitempty"`
	Dirty         bool            `json:"dirty"`
	Images        []planImageJSON `json:"images"`
}

type planImageJSON struct {
	Name         string   `json:"name"`
	Repositories []string `json:"repositories"`
	Tags         []string `json:"tags"`
	Refs         []string `json:"refs"`
}

func writePlanJSON(a *app, plan *release.Plan) error {
	out := planJSON{SchemaVersion: 1, Commit: plan.Facts.Commit, Dirty: plan.Facts.Dirty, Images: []planImageJSON{}}
	for _, img := range plan.Images {
		pi := planImageJSON{Name: img.Name, Tags: img.Tags}
		for _, r := range img.Repositories {
			pi.Repositories = append(pi.Repositories, r.String())
		}
		for _, r := range img.Refs {
			pi.Refs = append(pi.Refs, r.String())
		}
		out.Images = append(out.Images, pi)
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
