// Package release strings the stages together: plan → build → push → sign
// → bump, with manifests written only when everything before succeeded.
package release

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipway-build/slipway/internal/project"
	"github.com/slipway-build/slipway/internal/tagging"
)

// PlannedImage is one image of the project with every reference it gets.
type PlannedImage struct {
	Name string
	// Repositories has one entry per registry, the primary first.
	Repositories []name.Repository
	// Tags are the rendered tags in template order.
	Tags []string
	// Refs are every repository × tag, primary registry first, tags in order.
	Refs []name.Tag
	// Config is the image as slipway.yaml declares it.
	Config project.Image
	// Registries are the registry settings that apply to the image.
	Registries project.Registries
	// DirtyFiles are the uncommitted changes among the image's own build
	// inputs (absolute paths); when there are any, tags that claim a
	// commit get "-dirty".
	DirtyFiles []string
	// Immutable marks the tags that name one commit or version: they are
	// meant never to move to another digest.
	Immutable map[string]bool
	// Digest, when set, is what a report says was built: push, sign and
	// bump act on it and on nothing else. Store is where it was built.
	Digest, Store string
	// Source is the last commit that changed the image's build inputs (HEAD
	// when they have uncommitted changes): its time clamps the image's file
	// times and names its creation, so that an untouched image rebuilds to
	// the same digest. FindSources fills it; zero: HEAD's facts stand in.
	Source tagging.Source
	// InputDigest is the digest of the image's build inputs (see
	// PrepareInputs); empty when not known.
	InputDigest string
}

// Primary is the first reference of the plan: primary registry, first tag.
func (p PlannedImage) Primary() name.Tag { return p.Refs[0] }

// Plan is what a run will produce.
type Plan struct {
	Images []PlannedImage
	Facts  tagging.Facts
	// Warnings are things a user should see (tags dropped because empty).
	Warnings []string

	inputsDone bool // PrepareInputs ran
	dirtyKnown bool // each image's DirtyFiles were read
}

// PlanOptions tune MakePlan.
type PlanOptions struct {
	// Only limits the plan to these image names (all when empty).
	Only []string
	// Registries overrides the registries of every image (--registry).
	Registries []string
	// Getenv is the environment for templates; os.Getenv when nil.
	Getenv func(string) string
	// RecordDirty makes PlanProject read the work tree's status even when no
	// tag template depends on it, for a record of the run (false: only when
	// a template needs it).
	RecordDirty bool
	// TagsOnly says the run uses the git facts for nothing but the tags (no
	// report, no build metadata, no signature annotations): when no template
	// reads a git fact, git is not run and Plan.Facts holds only BuildNumber.
	TagsOnly bool
	// DirtyFiles, when not nil, judges each image on its own inputs: the
	// image is dirty only when it has an entry. When nil, every image
	// takes the facts' Dirty.
	DirtyFiles map[string][]string
	// ReportPath is the report this run writes, one of slipway's own files.
	ReportPath string
}

// UnknownImageError names an image that the project does not declare.
type UnknownImageError struct {
	Name  string
	Known []string
}

func (e *UnknownImageError) Error() string {
	return fmt.Sprintf("no image named %q in the project (images: %s)", e.Name, strings.Join(e.Known, ", "))
}

// ExitCode marks a usage error.
func (e *UnknownImageError) ExitCode() int { return 2 }

// MakePlan renders every image's tags and references.
func MakePlan(cfg *project.Config, facts tagging.Facts, opts PlanOptions) (*Plan, error) {
	selected, err := Select(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	var override project.Registries
	for _, r := range opts.Registries {
		if err := project.ValidateRegistry(r); err != nil {
			return nil, &usageErr{fmt.Errorf("--registry: %w", err)}
		}
		override = append(override, project.Registry{URL: r})
	}
	plan := &Plan{Facts: facts}
	plan.dirtyKnown = opts.DirtyFiles != nil
	ps := &project.Problems{File: cfg.File}
	for _, img := range selected {
		regs := cfg.RegistriesFor(img)
		if len(override) > 0 {
			regs = override
		}
		templates := cfg.TagsFor(img)
		if len(templates) == 0 {
			templates = tagging.DefaultTemplates
		}
		imgFacts := facts
		var dirty []string
		if opts.DirtyFiles != nil {
			dirty = opts.DirtyFiles[img.Name]
			imgFacts.Dirty = len(dirty) > 0
		}
		tags, warnings, err := tagging.Render(templates, imgFacts, opts.Getenv)
		for _, w := range warnings {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("image %s: %s", img.Name, w))
		}
		if err != nil {
			ps.Items = append(ps.Items, project.Problem{File: cfg.File, Line: img.Loc.Line, Col: img.Loc.Col,
				Msg: fmt.Sprintf("image %s: %v", img.Name, err)})
			continue
		}
		if len(tags) == 0 {
			ps.Items = append(ps.Items, project.Problem{File: cfg.File, Line: img.Loc.Line, Col: img.Loc.Col,
				Msg: fmt.Sprintf("image %s: every tag template rendered empty, so the image would get no tag", img.Name)})
			continue
		}
		pi := PlannedImage{Name: img.Name, Tags: tags, Config: img, Registries: regs, DirtyFiles: dirty,
			Immutable: tagging.Immutable(templates, imgFacts, opts.Getenv)}
		if len(dirty) > 0 && dirtyTagged(tags) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("image %s: uncommitted changes in its build inputs (%s), so tags that name the commit get -dirty",
				img.Name, firstFew(cfg.Dir, dirty, 3)))
		}
		for _, reg := range regs {
			refs, err := tagging.References(reg.URL, img.Name, tags)
			if err != nil {
				ps.Items = append(ps.Items, project.Problem{File: cfg.File, Line: img.Loc.Line, Col: img.Loc.Col,
					Msg: fmt.Sprintf("image %s: %v", img.Name, err)})
				break
			}
			pi.Repositories = append(pi.Repositories, refs[0].Repository)
			pi.Refs = append(pi.Refs, refs...)
		}
		if len(pi.Refs) > 0 {
			plan.Images = append(plan.Images, pi)
		}
	}
	if len(ps.Items) > 0 {
		return nil, ps
	}
	return plan, nil
}

// Select returns the images named (all, in file order, when none is).
func Select(cfg *project.Config, only []string) ([]project.Image, error) {
	if len(only) == 0 {
		return cfg.Images, nil
	}
	want := map[string]bool{}
	for _, n := range only {
		if _, ok := cfg.Image(n); !ok {
			var known []string
			for _, img := range cfg.Images {
				known = append(known, img.Name)
			}
			sort.Strings(known)
			return nil, &UnknownImageError{Name: n, Known: known}
		}
		want[n] = true
	}
	var out []project.Image
	for _, img := range cfg.Images {
		if want[img.Name] {
			out = append(out, img)
		}
	}
	return out, nil
}

type usageErr struct{ error }

func (e *usageErr) Unwrap() error { return e.error }
func (e *usageErr) ExitCode() int { return 2 }

// PlanProject reads the git facts of the project folder and makes the plan.
// git runs once for the facts of HEAD (not at all with opts.TagsOnly when no
// template reads a git fact), and once more for the work tree's status only
// when a tag template depends on it or opts.RecordDirty asks.
func PlanProject(ctx context.Context, cfg *project.Config, opts PlanOptions) (*Plan, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	selected, err := Select(cfg, opts.Only)
	if err != nil {
		return nil, err
	}
	var templates []string
	for _, img := range selected {
		if t := cfg.TagsFor(img); len(t) > 0 {
			templates = append(templates, t...)
		} else {
			templates = append(templates, tagging.DefaultTemplates...)
		}
	}
	need := tagging.TemplateNeeds(templates)
	if opts.TagsOnly && !need.Git {
		return MakePlan(cfg, tagging.EnvFacts(opts.Getenv), opts)
	}
	facts, err := tagging.HeadFacts(ctx, cfg.Dir, opts.Getenv, need.Describe)
	if err != nil {
		return nil, fmt.Errorf("reading git facts of %s: %w", cfg.Dir, err)
	}
	// Each image is judged on its own inputs (one git status for all).
	if facts.Commit != "" && (need.Dirty || opts.RecordDirty) && opts.DirtyFiles == nil {
		if opts.DirtyFiles, err = dirtyFiles(ctx, cfg, selected, OwnFiles(cfg, "", opts.ReportPath)); err != nil {
			return nil, fmt.Errorf("reading git facts of %s: %w", cfg.Dir, err)
		}
		// The report's git.dirty says whether any planned image is dirty.
		facts.Dirty = len(opts.DirtyFiles) > 0
	}
	return MakePlan(cfg, facts, opts)
}

// dirtyTagged reports whether a tag carries the dirty suffix.
func dirtyTagged(tags []string) bool {
	for _, t := range tags {
		if strings.HasSuffix(t, "-dirty") {
			return true
		}
	}
	return false
}

// firstFew names up to n paths relative to dir, and how many more there are.
func firstFew(dir string, paths []string, n int) string {
	var names []string
	for i, p := range paths {
		if i == n {
			names = append(names, fmt.Sprintf("and %d more", len(paths)-n))
			break
		}
		if rel, err := filepath.Rel(dir, p); err == nil {
			p = rel
		}
		names = append(names, p)
	}
	return strings.Join(names, ", ")
}
