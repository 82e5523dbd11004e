// Command soak runs the whole local flow under seeded faults for a bounded
// time and checks that nothing was lost, corrupted, overwritten or served
// wrong (`make soak`, see local/soak). The report goes to stdout, progress
// to stderr; the exit code is 0 when every promise held, 1 when one broke,
// 2 on bad usage or when the soak could not run.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/backtoorigin/backtoorigin/local/soak"
)

func main() { os.Exit(run()) }

// run returns the exit code, so every deferred close runs before the exit.
func run() int {
	cfg := soak.DefaultConfig()
	seed := flag.Uint64("seed", 0, "seed of the run (0: a random one, printed)")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "bound from the first viewer request to the checks (faults and viewers stop 5 visibility timeouts before its end, leaving time for the queue to drain)")
	flag.IntVar(&cfg.Objects, "objects", cfg.Objects, "objects in all")
	flag.IntVar(&cfg.Big, "big", cfg.Big, "objects of 100 MiB up to -big-mib")
	flag.IntVar(&cfg.BigMaxMiB, "big-mib", cfg.BigMaxMiB, "largest big object, MiB (at least 100)")
	flag.IntVar(&cfg.Multipart, "multipart", cfg.Multipart, "objects of a few parts")
	flag.IntVar(&cfg.Gzip, "gzip", cfg.Gzip, "gzip-stored objects")
	flag.IntVar(&cfg.Overwrites, "overwrites", cfg.Overwrites, "objects overwritten at the source mid-copy")
	flag.IntVar(&cfg.Viewers, "viewers", cfg.Viewers, "concurrent viewers")
	flag.Float64Var(&cfg.FaultRate, "fault-rate", cfg.FaultRate, "multiplier of every fault probability (0: none)")
	flag.IntVar(&cfg.Kills, "kills", cfg.Kills, "transfer processes killed mid-invocation")
	flag.IntVar(&cfg.Duplicates, "duplicates", cfg.Duplicates, "most duplicate SQS messages")
	flag.IntVar(&cfg.LostAcks, "lost-acks", cfg.LostAcks, "most lost SQS acknowledgements")
	flag.Float64Var(&cfg.SourceMiBps, "source-mibps", cfg.SourceMiBps, "MiB/s of each source read (0: unpaced)")
	flag.DurationVar(&cfg.FunctionTimeout, "function-timeout", cfg.FunctionTimeout, "the transfer function's timeout (more than the engine's 20 s stop margin)")
	logs := flag.String("logs", "", "write the edge handler's and transfer function's raw logs to this file")
	flag.Parse()
	if flag.NArg() > 0 || cfg.BigMaxMiB < 100 || cfg.Objects < cfg.Big+cfg.Multipart+cfg.Gzip+2 {
		fmt.Fprintln(os.Stderr, "usage: soak [-seed N] [-duration 5m] [flags]; -objects must cover -big, -multipart, -gzip and 2 empty ones, -big-mib >= 100")
		return 2
	}
	cfg.Seed = *seed
	if cfg.Seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.Seed = binary.LittleEndian.Uint64(b[:]) >> 1
	}
	cfg.Progress = os.Stderr
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			return 2
		}
		defer f.Close()
		cfg.Logs = f
	} else {
		cfg.Logs = io.Discard
	}
	// The harness's reverse proxies log each cut connection: that is
	// the faults working, not news.
	log.SetOutput(cfg.Logs)
	fmt.Fprintf(os.Stderr, "soak: seed %d (replay: make soak SOAK_FLAGS='-seed %d')\n", cfg.Seed, cfg.Seed)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak (seed %d): %v\n", cfg.Seed, err)
		return 2
	}
	rep.Print(os.Stdout)
	if len(rep.Failed) > 0 {
		return 1
	}
	return 0
}
