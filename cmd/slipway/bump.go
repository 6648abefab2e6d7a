package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/release"
	"github.com/slipway-build/slipway/internal/report"
	"github.com/slipway-build/slipway/manifest"
)

func init() {
	register(command{
		name:    "bump",
		args:    "[PATH...]",
		summary: "rewrite image references in manifests, byte-exact elsewhere",
		long: `Sets the image of every matching container (wherever an object keeps
one: Pods, workloads, CronJobs, Argo, Knative, Tekton... see docs/manifests.md),
kustomization images: entry, and field named by a rule, changing those
values and nothing else: comments, quotes, indentation and order stay.
A reference matches when its repository is the new one's, whatever its tag
or digest. New values come from --set REPO=REF (no slipway.yaml needed),
from a report (--from), or else from what the registry holds for the
project's plan. PATHs are files, folders (*.yaml, *.yml, *.json, recursive;
a Helm chart's templates/ folder is skipped) and globs; without PATHs, the
manifests of slipway.yaml. All files are read and checked before any is
written; if one cannot be replaced, those already replaced are put back.`,
		report: true,
		setup: func(fs *pflag.FlagSet) runFunc {
			p := newPipelineFlags()
			p.registerBump(fs)
			fs.StringArrayVar(&p.insecure, "insecure-registry", nil, "allow plain HTTP to `HOST` when resolving digests (repeatable)")
			sets := fs.StringArray("set", nil, "set `REPO=REF`: references to REPO become REF (repeatable)")
			from := fs.String("from", "", "take the new images from this report")
			check := fs.Bool("check", false, "write nothing; exit 1 listing the files a bump would change")
			diff := fs.Bool("diff", false, "write nothing; print a unified diff")
			output := fs.StringP("output", "o", "", "write nothing; print the rewritten files to - (stdout)")
			strict := fs.Bool("strict", false, "fail when an image matches no reference")
			return func(ctx context.Context, a *app, args []string) error {
				if *output != "" && *output != "-" {
					return a.usagef("-o: only - (stdout) is supported")
				}
				if n := btoi(*check) + btoi(*diff) + btoi(*output != ""); n > 1 {
					return a.usagef("--check, --diff and -o go one at a time")
				}
				if len(*sets) > 0 && *from != "" {
					return a.usagef("--set and --from do not go together")
				}
				opts, err := a.options(p)
				if err != nil {
					return err
				}
				rep := a.newReport("bump")
				images, cfg, err := a.bumpImages(ctx, *sets, *from, args, opts, rep)
				if err != nil {
					return err
				}
				targets, err := a.bumpTargets(cfg, args, p.pin)
				if err != nil {
					return err
				}
				a.debugSkipped(targets)
				// Reading manifests allocates a few times their size and
				// keeps little: fewer collections pay for the headroom.
				defer debug.SetGCPercent(debug.SetGCPercent(400))
				changes, err := manifest.PlanTargets(ctx, targets, images)
				if err != nil {
					return fmt.Errorf("reading manifests: %w", err)
				}
				// A reference that is already up to date still matches: only
				// images that no file names at all are worth a warning.
				if len(changes.Unmatched) > 0 {
					msg := "no image reference matched"
					if len(changes.Unmatched) < len(images) {
						var repos []string
						for _, img := range changes.Unmatched {
							repos = append(repos, bumpRepo(img))
						}
						msg = "no reference to " + strings.Join(repos, ", ")
					}
					if *strict {
						return &exitError{msg: "bump: " + msg, code: 1}
					}
					a.warnf("%s", msg)
				}
				changed := changes.Changed()
				switch {
				case *check:
					out := bufio.NewWriter(a.stdout)
					for _, f := range changed {
						fmt.Fprintln(out, a.rel(f))
					}
					if err := out.Flush(); err != nil {
						return err
					}
					if len(changed) > 0 {
						return &exitError{msg: fmt.Sprintf("bump --check: %s out of date", plural(len(changed), "file")), code: 1}
					}
					return nil
				case *diff:
					return a.relativeChanges(changes).Diff(a.stdout)
				case *output != "":
					return changes.WriteFiles(a.stdout)
				}
				if err := changes.Apply(ctx); err != nil {
					return fmt.Errorf("writing manifests: %w", err)
				}
				release.RecordEdits(changes, rep)
				if err := changes.WriteEdits(a.stdout, a.rel); err != nil {
					return err
				}
				return a.finishReport(rep, nil)
			}
		},
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rel shows a path relative to the working folder when it is inside it.
func (a *app) rel(p string) string {
	if r, err := filepath.Rel(a.wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// bumpImages finds the new image values: --set, --from, or the registry.
// The project is loaded when one is needed: without PATHs (its manifests
// are the targets) or without --set and --from (its plan names the images).
func (a *app) bumpImages(ctx context.Context, sets []string, from string, paths []string, opts release.Options, rep *report.Report) ([]manifest.Image, *project.Config, error) {
	var images []manifest.Image
	for _, s := range sets {
		repo, ref, ok := strings.Cut(s, "=")
		if !ok || repo == "" || ref == "" {
			return nil, nil, a.usagef("--set %q: want REPO=REF, e.g. nginx=registry.example.com/nginx:1.27.3", s)
		}
		img, err := manifest.ParseImage(ref)
		if err != nil {
			return nil, nil, a.usagef("--set %q: %v", s, err)
		}
		if _, err := manifest.ParseImage(repo + ":x"); err != nil {
			return nil, nil, a.usagef("--set %q: %q is not a repository", s, repo)
		}
		img.Match = repo
		images = append(images, img)
	}
	given := len(sets) > 0 || from != ""
	var cfg *project.Config
	if len(paths) == 0 || !given {
		var err error
		cfg, err = a.loadProject()
		if err != nil {
			if given && errors.Is(err, project.ErrNotFound) {
				return nil, nil, a.usagef("no PATH given and no %s to name the manifests", a.file)
			}
			return nil, nil, err
		}
	}
	switch {
	case len(sets) > 0:
		return images, cfg, nil
	case from != "":
		prev, err := report.Read(a.path(from))
		if err != nil {
			return nil, nil, err
		}
		images, err := release.BumpImages(prev)
		return images, cfg, err
	}
	plan, err := a.planFor(ctx, cfg, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := release.Resolve(ctx, cfg, plan, opts, rep); err != nil {
		return nil, nil, withPushHint(err)
	}
	images, err = release.BumpImages(rep)
	return images, cfg, err
}

// bumpRepo is the repository an image's references are matched by.
func bumpRepo(img manifest.Image) string {
	if img.Match != "" {
		return img.Match
	}
	return img.Repository
}

// relativeChanges is ch with paths shown relative to the working folder,
// for a diff that reads like git's and applies with patch -p0 from there.
func (a *app) relativeChanges(ch *manifest.Changes) *manifest.Changes {
	shown := *ch
	shown.Files = make([]manifest.FileChange, len(ch.Files))
	for i, f := range ch.Files {
		f.Path = a.rel(f.Path)
		shown.Files[i] = f
	}
	return &shown
}

// bumpTargets are the PATHs given, or slipway.yaml's manifests.
func (a *app) bumpTargets(cfg *project.Config, paths []string, pin string) ([]manifest.Target, error) {
	if len(paths) == 0 {
		if cfg == nil || len(cfg.Manifests) == 0 {
			return nil, a.usagef("no PATH given and no manifests: in %s", a.file)
		}
		return release.ManifestTargets(cfg, pin)
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i] = a.path(p)
	}
	mp, err := manifest.ParsePin(pin)
	if err != nil {
		return nil, a.usagef("--pin: %v", err)
	}
	t, err := manifest.Discover(manifest.Source{Paths: abs, Options: manifest.Options{Pin: mp}})
	if err != nil {
		return nil, err
	}
	return []manifest.Target{t}, nil
}

// debugSkipped names the chart templates folders the walk left out.
func (a *app) debugSkipped(targets []manifest.Target) {
	for _, t := range targets {
		for _, d := range t.Skipped {
			a.debugf("skipping %s: Helm chart templates (values.yaml is bumped through rules:)", a.rel(d))
		}
	}
}
