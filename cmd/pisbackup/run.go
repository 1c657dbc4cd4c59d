package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// env is what every command gets: the parsed arguments' I/O and the environment, never globals.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand: its one-line summary and its body.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is the whole CLI, one file per command.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, e *env, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// run dispatches to a subcommand. Tests call it directly with their own environment and writers.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return usageErr("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(stderr)
		return usageErr(fmt.Sprintf("unknown command %q", args[0]))
	}
	return oneLine(c.run(ctx, e, args[1:]))
}

// oneLine folds a multi-line error (pgx lists every address it tried, one per line) into the single line the
// CLI promises, keeping what it wraps for errors.Is/As and the exit code.
func oneLine(err error) error {
	if err == nil || !strings.ContainsAny(err.Error(), "\r\n") {
		return err
	}
	return &foldedError{err: err, msg: strings.Join(strings.Fields(err.Error()), " ")}
}

type foldedError struct {
	err error
	msg string
}

func (f *foldedError) Error() string { return f.msg }
func (f *foldedError) Unwrap() error { return f.err }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pisbackup COMMAND [flags]   (pisbackup COMMAND --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-24s %s\n", n, commands[n].summary)
	}
}

// exitError carries an exit code: 2 for usage errors, 1 for failures, others where a command documents them.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(msg string) error { return &exitError{code: 2, msg: msg} }

// silentExit ends with code without printing anything more (the command already reported).
func silentExit(code int) error { return &exitError{code: code} }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 1
}

// newFlags makes a FlagSet that reports errors instead of exiting, writing help to e.stderr.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: pisbackup %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and turns any problem into a usage error (exit 2); --help exits 0. Words left after the
// flags are refused: `create-backup media` must not quietly take the default database backup.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q: %s takes only flags (see pisbackup %s --help)", fs.Arg(0), fs.Name(), fs.Name()))
	}
	return nil
}

// parseFlags is parse for commands that take positional arguments of their own (parseWithID).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return silentExit(0)
		}
		return usageErr(err.Error())
	}
	return nil
}

func oneOf(flagName, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return usageErr(fmt.Sprintf("--%s must be one of %s, got %q", flagName, strings.Join(allowed, ", "), v))
}
