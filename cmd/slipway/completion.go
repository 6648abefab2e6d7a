package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/slipway-build/slipway/internal/completion"
	"github.com/slipway-build/slipway/internal/project"
)

// valuesAnnotation on a flag lists its fixed values for completion, where
// its help text does not list them as "...: a, b or c".
const valuesAnnotation = "slipway.values"

func init() {
	register(command{
		name:    "completion",
		args:    "bash|zsh|fish",
		summary: "print the shell completion script for bash, zsh or fish",
		long: `Completes commands, flags, the values of flags with a fixed set
(--progress, --pin, --format...), image names from slipway.yaml for
commands that take IMAGE, and file names for PATH arguments.

  bash:  source <(slipway completion bash)       (in ~/.bashrc)
  zsh:   source <(slipway completion zsh)        (in ~/.zshrc, after compinit)
  fish:  slipway completion fish | source        (in config.fish)

The script asks slipway itself for the candidates, so it stays right
when slipway is upgraded.`,
		setup: func(fs *pflag.FlagSet) runFunc {
			complete := fs.Bool("complete", false, "answer a completion request for the words after --")
			_ = fs.MarkHidden("complete")
			return func(ctx context.Context, a *app, args []string) error {
				if *complete {
					res := completion.Complete(completionSpec(), args, a.completionImages)
					return res.Write(a.stdout)
				}
				if len(args) != 1 {
					return a.usagef("completion takes one shell: %s", strings.Join(completion.Shells, ", "))
				}
				s, err := completion.Script(args[0], "slipway")
				if err != nil {
					return a.usagef("%v", err)
				}
				_, err = a.stdout.Write([]byte(s))
				return err
			}
		},
	})
}

// completionSpec describes the registered commands and their flags.
func completionSpec() completion.Spec {
	var spec completion.Spec
	gs := pflag.NewFlagSet("slipway", pflag.ContinueOnError)
	(&globals{}).register(gs)
	spec.Globals = completionFlags(gs)
	for _, c := range sortedCommands() {
		fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
		c.setup(fs)
		cc := completion.Command{Name: c.name, Summary: c.summary, Flags: completionFlags(fs)}
		switch {
		case strings.Contains(c.args, "IMAGE"):
			cc.Args = completion.ArgImages
		case strings.Contains(c.args, "PATH"), strings.Contains(c.args, "FILE"):
			cc.Args = completion.ArgFiles
		case strings.Contains(c.args, "DIR"):
			cc.Args = completion.ArgDirs
		case strings.Contains(c.args, "|"):
			cc.Args = completion.ArgValues
			cc.Values = strings.Split(strings.Trim(c.args, "[]."), "|")
		}
		spec.Commands = append(spec.Commands, cc)
	}
	return spec
}

func completionFlags(fs *pflag.FlagSet) []completion.Flag {
	var out []completion.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		cf := completion.Flag{Name: f.Name, Short: f.Shorthand, Hidden: f.Hidden, TakesValue: f.NoOptDefVal == ""}
		varname, usage := pflag.UnquoteUsage(f)
		cf.Usage = usage
		if cf.TakesValue {
			if vals := f.Annotations[valuesAnnotation]; len(vals) > 0 {
				cf.Value, cf.Values = completion.ArgValues, vals
			} else if vals := completion.ValuesFromUsage(usage); vals != nil {
				cf.Value, cf.Values = completion.ArgValues, vals
			} else {
				switch {
				case f.Name == "chdir" || varname == "DIR":
					cf.Value = completion.ArgDirs
				case f.Name == "file" || varname == "FILE" || varname == "PATH":
					cf.Value = completion.ArgFiles
				}
			}
		}
		out = append(out, cf)
	})
	return out
}

// completionImages reads the image names of the project file the command
// line names; any problem means no names, never an error in the shell.
func (a *app) completionImages(file, dir string) []string {
	if file == "" {
		file = project.DefaultFile
	}
	base := a.wd
	if dir != "" {
		base = filepath.Join(a.wd, dir)
		if filepath.IsAbs(dir) {
			base = dir
		}
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(base, file)
	}
	cfg, err := project.Load(file, os.LookupEnv)
	if err != nil {
		return nil
	}
	var names []string
	for _, img := range cfg.Images {
		names = append(names, img.Name)
	}
	return names
}
