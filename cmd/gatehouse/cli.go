package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// A sub-command's flags follow one convention (SPEC §2): --help prints the command's own
// usage and flags, every flag may also come from GATEHOUSE_<NAME> (flags win), and a bad
// value names the flag, or the variable, and the value.

// flagSet is a sub-command's flags and what --help prints before them.
type flagSet struct {
	*flag.FlagSet
	usage, about string
	help         io.Writer // where --help goes; nil: nowhere
}

// newFlagSet returns an empty flag set for a sub-command that prints nothing by itself:
// parseFlags prints its help on --help and returns other errors.
func newFlagSet(name, usage, about string, help io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, usage: usage, about: about, help: help}
}

// parseFlags parses args, then fills each flag not given from its GATEHOUSE_<NAME>
// variable, and refuses arguments that are not flags.
func parseFlags(fs *flagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp()
			return err
		}
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q (flags start with --; see gatehouse %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return applyEnv(fs.FlagSet, getenv)
}

// envName is the environment variable of a flag: --max-body is GATEHOUSE_MAX_BODY.
func envName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets each flag that was not on the command line from its variable. A bad value
// names the variable, its value and the flag: "GATEHOUSE_LICENSES=abc: invalid value for
// --licenses: not a number".
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := envName(f.Name)
		if v := getenv(env); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%s: invalid value for --%s: %s", env, v, f.Name, reason(e))
			}
		}
	})
	return err
}

// reason words the flag package's errors for numbers and durations.
func reason(err error) string {
	switch msg := err.Error(); {
	case strings.HasSuffix(msg, "parse error"):
		return "not a number"
	case strings.HasSuffix(msg, "value out of range"):
		return "out of range"
	case strings.Contains(msg, "time: "):
		return "not a duration (e.g. 90s, 30m, 2h)"
	default:
		return msg
	}
}

// printHelp writes a command's usage, what it does, and its flags with their variables.
func (fs *flagSet) printHelp() {
	if fs.help == nil {
		return
	}
	fmt.Fprintf(fs.help, "usage: %s\n\n%s\n", fs.usage, fs.about)
	first := ""
	fs.VisitAll(func(f *flag.Flag) {
		if first == "" {
			first = f.Name
		}
	})
	if first == "" {
		return
	}
	fmt.Fprintf(fs.help, "\nflags (each also settable as GATEHOUSE_<NAME>, e.g. --%s as %s; flags win):\n", first, envName(first))
	fs.SetOutput(fs.help)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseCheckFlags reads the flags of gatehouse check: only --dir (GATEHOUSE_DIR). A
// missing app folder is an error, not an empty app.
func parseCheckFlags(args []string, getenv func(string) string, help io.Writer) (string, error) {
	fs := newFlagSet("check", "gatehouse check [--dir D]",
		"Load and validate roles.json, model.json and every script of the app folder, print every\nproblem with file:line, and exit 1 on any.", help)
	dir := fs.String("dir", ".", "app folder")
	if err := parseFlags(fs, args, getenv); err != nil {
		return "", err
	}
	if fi, err := os.Stat(*dir); err != nil {
		return "", fmt.Errorf("--dir %s: %w", *dir, errors.Unwrap(err))
	} else if !fi.IsDir() {
		return "", fmt.Errorf("--dir %s: not a folder", *dir)
	}
	return *dir, nil
}
