// Command bench measures the transfer engine against rclone and against the ceiling of
// the local stand-ins, in one run that prints one table (`make bench`).
//
// It starts MinIO (the S3 side) as a child process and fake-gcs-server (the GCS side) in
// this process, seeds fake-gcs with deterministic random objects, and then, for each size,
// runs every contender as its own child process so the kernel reports each one's peak
// RSS. Every copy is checked in MinIO (size and SHA-256) before its number is printed,
// and the destination is deleted between runs because the engine never overwrites.
//
//	go run ./bench                      # 16 MiB, 256 MiB and 1 GiB
//	go run ./bench -sizes 16MiB         # quick check
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/backtoorigin/backtoorigin/internal/standin"
)

const (
	sourceBucket = "bench-source"
	destBucket   = "bench-destination"
)

type config struct {
	sizes       []int64
	partSize    int64
	concurrency int
	runs        int
	contenders  []string
	minio       string
	rclone      string
	keepTemp    bool
	profileDir  string
	trace       bool

	small            bool // the small-objects bench instead
	smallObjects     int
	smallConcurrency int
}

func main() {
	log.SetFlags(0)
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		log.Fatalf("bench: %v", err)
	}
}

func parseFlags() (config, error) {
	var cfg config
	sizes := flag.String("sizes", "16MiB,256MiB,1GiB", "comma-separated object sizes (B, KiB, MiB, GiB)")
	partSize := flag.String("part-size", "16MiB", "multipart part size for every contender (the Lambda's PART_SIZE_MIB default)")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "parts in flight for every contender (the Lambda's PART_CONCURRENCY default)")
	flag.IntVar(&cfg.runs, "runs", 5, "rounds per size, each running every contender once (order rotating); the table shows each one's median by time")
	contenders := flag.String("contenders", "engine,engine-warm,rclone,ceiling",
		"which to run: engine, rclone, ceiling and engine-warm (the second copy in one process, with warm connections, as in a warm Lambda container)")
	flag.StringVar(&cfg.minio, "minio", "", "MinIO binary (default <module root>/.tools/bin/minio)")
	flag.StringVar(&cfg.rclone, "rclone", "rclone", "rclone binary (1.60 from Debian)")
	flag.StringVar(&cfg.profileDir, "profile-dir", "", "write CPU profiles of the engine and rclone runs here (go tool pprof FILE)")
	flag.BoolVar(&cfg.trace, "trace", false, "log when each of the engine's S3 calls and source GETs ran (where its time goes)")
	flag.BoolVar(&cfg.small, "small", false, "run the small-objects bench: many small objects through the Lambda's handler, rclone copy and the stand-ins' ceiling")
	flag.IntVar(&cfg.smallObjects, "objects", 2000, "-small: how many objects")
	flag.IntVar(&cfg.smallConcurrency, "small-concurrency", 16, "-small: copies at once for every contender")
	flag.BoolVar(&cfg.keepTemp, "keep-temp", false, "keep the temporary folder (MinIO data, built helpers) for inspection")
	flag.Parse()

	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(strings.TrimSpace(s))
		if err != nil {
			return cfg, err
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	ps, err := parseSize(*partSize)
	if err != nil {
		return cfg, err
	}
	if ps < 5<<20 || ps%1024 != 0 {
		return cfg, fmt.Errorf("-part-size %s: want at least 5 MiB (S3's minimum) in whole KiB (rclone's unit)", *partSize)
	}
	cfg.partSize = ps
	if cfg.concurrency < 1 || cfg.runs < 1 || cfg.smallObjects < 1 || cfg.smallConcurrency < 1 {
		return cfg, fmt.Errorf("-concurrency, -runs, -objects and -small-concurrency must be at least 1")
	}
	for _, c := range strings.Split(*contenders, ",") {
		c = strings.TrimSpace(c)
		if !slices.Contains([]string{"engine", "engine-warm", "rclone", "ceiling"}, c) {
			return cfg, fmt.Errorf("-contenders: unknown %q (want engine, engine-warm, rclone, ceiling)", c)
		}
		cfg.contenders = append(cfg.contenders, c)
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) error {
	began := time.Now()
	loadBefore := loadAverage()
	if cfg.small {
		return runSmall(ctx, cfg, began, loadBefore)
	}
	root, err := locateTools(&cfg, slices.Contains(cfg.contenders, "rclone"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "backtoorigin-bench-")
	if err != nil {
		return fmt.Errorf("make temp folder: %w", err)
	}
	if cfg.keepTemp {
		log.Printf("temporary folder kept: %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	helpers, err := buildHelpers(ctx, root, filepath.Join(tmp, "bin"), cfg.contenders)
	if err != nil {
		return err
	}

	minio, dest, err := startDestination(ctx, cfg.minio, tmp, destBucket)
	if err != nil {
		return err
	}
	defer minio.Close()

	gcs, err := standin.StartGCS(standin.GCSOptions{})
	if err != nil {
		return err
	}
	defer gcs.Close()
	gcs.CreateBucket(sourceBucket, false)
	log.Printf("seeding fake-gcs with %d objects ...", len(cfg.sizes))
	objects, err := seedSource(gcs, cfg.sizes)
	if err != nil {
		return err
	}

	env := &environment{
		cfg: cfg, helpers: helpers, tmp: tmp, minio: minio, dest: dest,
		sourceEndpoint: gcs.URL,
	}
	var rows []sizeResult
	for _, obj := range objects {
		r, err := env.measureSize(ctx, obj)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	cold, err := measureColdStart(ctx, root, tmp, cfg.runs)
	if err != nil {
		return err
	}
	printReport(os.Stdout, cfg, rows, runInfo{rclone: env.rcloneVersion(ctx), loadBefore: loadBefore, elapsed: time.Since(began), cold: cold})
	return nil
}

// locateTools returns the module root and fills in cfg's MinIO binary and,
// when rclone is measured, its rclone binary.
func locateTools(cfg *config, rclone bool) (string, error) {
	root, err := standin.ModuleRoot()
	if err != nil {
		return "", err
	}
	if cfg.minio == "" {
		if cfg.minio, err = standin.ToolPath("minio"); err != nil {
			return "", err
		}
	}
	if rclone {
		if cfg.rclone, err = lookRclone(cfg.rclone); err != nil {
			return "", err
		}
	}
	return root, nil
}

// buildHelpers compiles the child programs once, so each measurement runs a plain
// binary (no `go run` compile in the timing, no go toolchain in the RSS).
func buildHelpers(ctx context.Context, root, binDir string, contenders []string) (map[string]string, error) {
	pkgs := map[string]string{"peakrss": "./bench/peakrss"}
	if slices.ContainsFunc(contenders, func(c string) bool { return strings.HasPrefix(c, "engine") }) {
		pkgs["enginecopy"] = "./bench/enginecopy"
	}
	if slices.Contains(contenders, "ceiling") {
		pkgs["ceilingget"] = "./bench/ceilingget"
		pkgs["ceilingput"] = "./bench/ceilingput"
	}
	return buildPackages(ctx, root, binDir, pkgs)
}

func buildPackages(ctx context.Context, root, binDir string, pkgs map[string]string) (map[string]string, error) {
	paths := map[string]string{}
	for name, pkg := range pkgs {
		out := filepath.Join(binDir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %w: %s", pkg, err, msg)
		}
		paths[name] = out
	}
	return paths, nil
}

func lookRclone(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("rclone not found (apt-get install -y rclone): %w", err)
	}
	return path, nil
}

func rcloneVersionOf(ctx context.Context, rclone string) string {
	out, err := exec.CommandContext(ctx, rclone, "version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			var n int64
			if _, err := fmt.Sscanf(num, "%d", &n); err != nil || n <= 0 || fmt.Sprint(n) != num {
				return 0, fmt.Errorf("size %q: want a positive whole number and a unit (B, KiB, MiB, GiB)", s)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("size %q: want a unit (B, KiB, MiB, GiB)", s)
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
