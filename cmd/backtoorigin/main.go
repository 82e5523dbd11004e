// Command backtoorigin finishes a migration from GCS to S3 that viewers
// started: it verifies that S3 holds every source object, queues the rest
// (and changed ones) for the deployed transfer function, and moves
// dead-lettered messages back.
//
//	backtoorigin verify   [--prefix P] [--deep] [--report FILE]
//	backtoorigin backfill [--prefix P]... [--dry-run] [--refresh] [--rate N] [--max-queued N]
//	backtoorigin redrive  [--dry-run] [--max N]
//	backtoorigin status
//
// Data goes to stdout (--json for scripts), progress and logs to stderr.
// Exit status: 0 done (verify: complete and identical), 1 differences
// found, 2 bad usage or input, 3 failed midway, 130 interrupted; a failed
// or interrupted backfill resumes where it stopped.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitDone        = 0
	exitDifferences = 1
	exitUsage       = 2
	exitFailed      = 3
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = []command{
	{"verify", "compare the source and S3: missing, stale and extra keys (exit 0 only when complete and identical)", runVerify},
	{"backfill", "queue every source key missing in S3 (--refresh: and changed ones) for the transfer function", runBackfill},
	{"redrive", "move dead-lettered messages back to the transfer queue", runRedrive},
	{"status", "copies in the last hour and day, failures, queue and dead-letter depth, when the queue drains", runStatus},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: backtoorigin <command> [flags]   (backtoorigin <command> --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nexit status: 0 done, 1 differences found, 2 bad usage or input, 3 failed midway, 130 interrupted")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitDone
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "backtoorigin: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// usageError is bad usage or bad input: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func badInput(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitFor prints err and maps it to an exit status.
func exitFor(ctx context.Context, stderr io.Writer, name string, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitDone
	case errors.Is(err, flag.ErrHelp):
		return exitDone
	case errors.As(err, new(differences)):
		return exitDifferences
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "backtoorigin %s: interrupted\n", name)
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "backtoorigin %s: %v\n", name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "backtoorigin %s: %v\n", name, err)
		return exitFailed
	}
}

// parse parses a command's flags; --help prints them to stdout.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (bool, int) {
	fs.SetOutput(stderr)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(stdout)
			fs.Usage()
			return false, exitDone
		}
	}
	if err := fs.Parse(args); err != nil {
		return false, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "backtoorigin %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false, exitUsage
	}
	return true, 0
}

// prefixes is a repeatable --prefix flag.
type prefixes []string

func (p *prefixes) String() string     { return fmt.Sprint(*p) }
func (p *prefixes) Set(v string) error { *p = append(*p, v); return nil }
