// Command gatehouse serves a 4D-compatible REST application: sessions, licences,
// roles.json privileges and dataclasses, with authentication written in JavaScript.
//
//	gatehouse [serve] [flags]   serve the app folder (default command)
//	gatehouse check [--dir D]   validate roles.json, model.json and every script
//	gatehouse hash-password     read a password on stdin, print its bcrypt hash
//	gatehouse version           print the version
//
// This is the only package that touches the process: arguments, environment, signals,
// standard streams and the exit code.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/crypto/bcrypt"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || programFlag(args[0])) {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stderr, hooks{help: stdout})
	case "check":
		err = check(ctx, args, getenv, stdout)
	case "hash-password":
		err = hashPassword(args, getenv, stdin, stdout)
	case "version", "-version", "--version", "-v":
		err = versionCmd(args, stdout)
	case "help", "-h", "-help", "--help":
		if len(args) > 0 {
			// gatehouse help CMD is gatehouse CMD --help.
			return run(ctx, []string{args[0], "--help"}, getenv, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errCheckFailed):
		return 1
	}
	fmt.Fprintln(stderr, "gatehouse:", err)
	return 1
}

const usage = `gatehouse serves a 4D-compatible REST application.

usage:
  gatehouse [serve] [flags]    serve the app folder (the default command)
  gatehouse check [--dir D]    validate roles.json, model.json and every script
  gatehouse hash-password      read a password on stdin, print a bcrypt hash
  gatehouse version            print the version (also: gatehouse --version)

Each command's flags: gatehouse CMD --help. Every flag may also be set in the
environment as GATEHOUSE_<NAME> (--max-body: GATEHOUSE_MAX_BODY); flags win.
`

// programFlag reports the flags of the program itself rather than of serve: help and
// version.
func programFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "-version", "--version", "-v":
		return true
	}
	return false
}

// versionCmd handles "gatehouse version".
func versionCmd(args []string, stdout io.Writer) error {
	fs := newFlagSet("version", "gatehouse version", "print the version", stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(stdout, "gatehouse", versionString())
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// hashPassword reads one password (the first line of stdin) and prints its bcrypt hash.
func hashPassword(args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlagSet("hash-password", "gatehouse hash-password [--cost N] < password",
		"read a password (the first line of standard input) and print its bcrypt hash", stdout)
	cost := fs.Int("cost", bcrypt.DefaultCost, "bcrypt cost (4-31)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *cost < bcrypt.MinCost || *cost > bcrypt.MaxCost {
		return fmt.Errorf("--cost %d: must be between %d and %d", *cost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("no password on standard input")
	}
	if len(password) > 72 {
		return errors.New("bcrypt uses at most 72 bytes: choose a shorter password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(hash))
	return nil
}
