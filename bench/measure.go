package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/backtoorigin/backtoorigin/bench/internal/payload"
	"github.com/backtoorigin/backtoorigin/internal/standin"
)

// sourceObject is one seeded object in fake-gcs.
type sourceObject struct {
	Key    string
	Size   int64
	SHA256 [sha256.Size]byte
}

// seedSource stores one deterministic object per size. The orchestrator's copy of the
// bytes is dropped at once: fake-gcs keeps its own, and a second gigabyte would only
// make this process's GC heavier while the contenders run.
func seedSource(gcs *standin.GCS, sizes []int64) ([]sourceObject, error) {
	var objects []sourceObject
	for _, size := range sizes {
		data := payload.New(size)
		obj := sourceObject{
			Key:    "bench/object-" + strings.ReplaceAll(formatSize(size), " ", ""),
			Size:   size,
			SHA256: sha256.Sum256(data),
		}
		_, err := gcs.PutObject(standin.GCSObject{
			Bucket: sourceBucket, Key: obj.Key, Content: data, ContentType: "application/octet-stream",
		})
		if err != nil {
			return nil, err
		}
		objects = append(objects, obj)
		data = nil
		runtime.GC()
	}
	debug.FreeOSMemory()
	return objects, nil
}

// Contender names, in the order the table shows them.
const (
	cEngine   = "engine"
	cWarm     = "engine, warm (in-call time)"
	cRclone   = "rclone copyurl"
	cGet      = "ceiling GET"
	cPut      = "ceiling PUT"
	cCeiling  = "ceiling = min(GET, PUT)"
	cTogether = "GET + PUT at once"
)

// measurement is one contender's median run for one size.
type measurement struct {
	Seconds    float64
	MaxRSSKiB  int64
	CPUChild   float64
	CPUMinIO   cpuTimes // user and system apart: see the report's note on MinIO's phases
	CPUFakeGCS float64
	CPUOther   float64 // machine-wide busy time not spent by the bench
	InnerSecs  float64 // the engine's time inside Copy (no process start, no SDK setup)
	HasRSS     bool
}

func (m measurement) MBps(size int64) float64 { return float64(size) / 1e6 / m.Seconds }

type sizeResult struct {
	Size    int64
	Results map[string]measurement
	// Paired holds, per round, the "GET + PUT at once" time over the engine's
	// first copy in a fresh process, timed as the ceiling's children time
	// themselves: from the end of setup (clients built, nothing connected) to
	// the end of the copy. The two are measured back to back, since MinIO's
	// phases move both alike. PairedProcess is the same ratio over the
	// engine's whole process (exec to exit: start, SDK setup and the copy);
	// the ceiling's children leave their setup out, so only Paired compares
	// like with like, and the process start is reported on its own as the
	// transfer Lambda's cold start.
	Paired        []float64
	PairedProcess []float64
}

type environment struct {
	cfg            config
	helpers        map[string]string
	tmp            string
	minio          *standin.S3Server
	dest           *destination
	sourceEndpoint string
}

// measureSize runs cfg.runs rounds for one object; each round runs every contender once
// (see roundOrder), and each contender's cell is its median run by time.
func (e *environment) measureSize(ctx context.Context, obj sourceObject) (sizeResult, error) {
	runs := map[string][]measurement{}
	var paired, pairedProcess []float64
	for round := range e.cfg.runs {
		for _, c := range roundOrder(e.cfg.contenders, round) {
			log.Printf("%s: round %d of %d: %s", formatSize(obj.Size), round+1, e.cfg.runs, c)
			var err error
			switch c {
			case "engine":
				err = e.measureOne(ctx, obj, cEngine, []childSpec{e.engineSpec(obj, "engine")}, true, runs)
				if err == nil && slices.Contains(e.cfg.contenders, "ceiling") {
					// Its pair, at once: the goal's ratio comes from the two.
					err = e.measureOne(ctx, obj, cTogether, []childSpec{e.ceilingGetSpec(obj), e.ceilingPutSpec(obj)}, true, runs)
					if err == nil {
						together, engine := runs[cTogether][len(runs[cTogether])-1], runs[cEngine][len(runs[cEngine])-1]
						if engine.InnerSecs <= 0 {
							return sizeResult{}, fmt.Errorf("%s: the engine reported no time inside Copy", formatSize(obj.Size))
						}
						paired = append(paired, together.Seconds/engine.InnerSecs)
						pairedProcess = append(pairedProcess, together.Seconds/engine.Seconds)
					}
				}
			case "engine-warm":
				spec := e.engineSpec(obj, "engine-warm", "-warm")
				err = e.measureOne(ctx, obj, cWarm, []childSpec{spec}, true, runs)
			case "rclone":
				err = e.measureOne(ctx, obj, cRclone, []childSpec{e.rcloneSpec(obj)}, true, runs)
			case "ceiling":
				err = e.measureCeiling(ctx, obj, runs)
			}
			if err != nil {
				return sizeResult{}, fmt.Errorf("%s, %s: %w", formatSize(obj.Size), c, err)
			}
		}
	}
	res := sizeResult{Size: obj.Size, Results: map[string]measurement{}, Paired: paired, PairedProcess: pairedProcess}
	for name, ms := range runs {
		slices.SortFunc(ms, func(a, b measurement) int { return cmpFloat(a.Seconds, b.Seconds) })
		res.Results[name] = ms[len(ms)/2]
	}
	if g, ok := res.Results[cGet]; ok {
		p := res.Results[cPut]
		res.Results[cCeiling] = slowest(g, p)
	}
	return res, nil
}

// roundOrder is the order in which round r (from 0) runs the contenders: all of them,
// starting at contender r mod n. On the bench VM MinIO's kernel CPU time swings between
// about 0.6 and 3.3 s per GiB in phases of about a minute, whatever the requests, so
// contenders are comparable only when their runs are spread over the same stretch of
// time. Interleaving does that; rotating also keeps any one contender from always
// running first (right after seeding or a bigger size) or always after the same one.
func roundOrder(contenders []string, r int) []string {
	n := len(contenders)
	order := make([]string, n)
	for i := range order {
		order[i] = contenders[(r+i)%n]
	}
	return order
}

func (e *environment) measureCeiling(ctx context.Context, obj sourceObject, runs map[string][]measurement) error {
	if err := e.measureOne(ctx, obj, cGet, []childSpec{e.ceilingGetSpec(obj)}, false, runs); err != nil {
		return err
	}
	if err := e.measureOne(ctx, obj, cPut, []childSpec{e.ceilingPutSpec(obj)}, true, runs); err != nil {
		return err
	}
	if slices.Contains(e.cfg.contenders, "engine") {
		return nil // "GET + PUT at once" runs right after each engine run, as its pair
	}
	// The right ceiling: on two cores the two halves of a copy compete for the same
	// CPUs, which measuring them apart hides.
	return e.measureOne(ctx, obj, cTogether, []childSpec{e.ceilingGetSpec(obj), e.ceilingPutSpec(obj)}, true, runs)
}

// measureOne clears the destination, runs the children, verifies the copy (when one
// was written) and records the result.
func (e *environment) measureOne(ctx context.Context, obj sourceObject, name string, specs []childSpec, writes bool, runs map[string][]measurement) error {
	if err := e.dest.clear(ctx, destBucket, obj.Key); err != nil {
		return err
	}
	g, err := runGroup(ctx, e.helpers["peakrss"], specs, e.minio.Pid())
	if err != nil {
		return err
	}
	for _, c := range g.Children {
		if e.cfg.trace && c.Stderr != "" {
			log.Printf("%s, %s:\n%s", formatSize(obj.Size), c.Name, c.Stderr)
		}
		if c.Reported != nil && c.Reported.Bytes != obj.Size {
			return fmt.Errorf("%s moved %d bytes, want %d", c.Name, c.Reported.Bytes, obj.Size)
		}
	}
	if writes {
		if err := e.dest.verify(ctx, destBucket, obj.Key, obj.Size, e.cfg.partSize, obj.SHA256); err != nil {
			return err
		}
		if err := e.dest.clear(ctx, destBucket, obj.Key); err != nil {
			return err
		}
	}
	m := measurement{Seconds: g.Seconds, CPUMinIO: g.MinIOCPU, CPUFakeGCS: g.OrchestratorCPUSecs, HasRSS: len(g.Children) == 1}
	for _, c := range g.Children {
		m.CPUChild += c.CPUSeconds
		m.MaxRSSKiB = max(m.MaxRSSKiB, c.MaxRSSKiB)
		if c.Reported != nil && len(g.Children) == 1 {
			m.InnerSecs = float64(c.Reported.EndUnixNano-c.Reported.StartUnixNano) / 1e9
		}
	}
	// Children's preparation before "go" is outside the window but inside neither term.
	m.CPUOther = max(0, g.MachineCPUSeconds-m.CPUChild-m.CPUMinIO.Total()-m.CPUFakeGCS)
	if name == cWarm {
		// Its process also ran the untimed warm-up copy; only the second copy counts.
		m.Seconds = m.InnerSecs
	}
	runs[name] = append(runs[name], m)
	return nil
}

func (e *environment) sourceURL(obj sourceObject) string {
	return e.sourceEndpoint + "/" + sourceBucket + "/" + obj.Key
}

// baseEnv is the whole environment of every child: nothing from this machine (no
// AWS_CA_BUNDLE, profiles or proxies) can change what is measured.
func (e *environment) baseEnv() []string {
	home := filepath.Join(e.tmp, "home")
	return []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
		"TMPDIR=" + e.tmp,
		"AWS_ACCESS_KEY_ID=" + e.minio.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + e.minio.SecretAccessKey,
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=" + e.minio.Endpoint,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

func (e *environment) engineSpec(obj sourceObject, profileName string, extraArgs ...string) childSpec {
	args := []string{
		"-source-endpoint", e.sourceEndpoint, "-source-bucket", sourceBucket,
		"-dest-bucket", destBucket, "-key", obj.Key,
		"-part-size", strconv.FormatInt(e.cfg.partSize, 10), "-concurrency", strconv.Itoa(e.cfg.concurrency),
	}
	if e.cfg.profileDir != "" {
		args = append(args, "-cpuprofile", e.profilePath(profileName, obj))
	}
	if e.cfg.trace {
		args = append(args, "-trace")
	}
	return childSpec{Name: profileName, Path: e.helpers["enginecopy"], Env: e.baseEnv(), Args: append(args, extraArgs...), ReportsInner: true}
}

func (e *environment) profilePath(contender string, obj sourceObject) string {
	return filepath.Join(e.cfg.profileDir, contender+"-"+strings.ReplaceAll(formatSize(obj.Size), " ", "")+".pprof")
}

func (e *environment) ceilingGetSpec(obj sourceObject) childSpec {
	return childSpec{
		Name: cGet, Path: e.helpers["ceilingget"], Env: e.baseEnv(), WaitGo: true,
		Args: []string{
			"-url", e.sourceURL(obj), "-size", strconv.FormatInt(obj.Size, 10),
			"-part-size", strconv.FormatInt(e.cfg.partSize, 10), "-concurrency", strconv.Itoa(e.cfg.concurrency),
			"-wait-go",
		},
	}
}

func (e *environment) ceilingPutSpec(obj sourceObject) childSpec {
	return childSpec{
		Name: cPut, Path: e.helpers["ceilingput"], Env: e.baseEnv(), WaitGo: true,
		Args: []string{
			"-endpoint", e.minio.Endpoint, "-bucket", destBucket, "-key", obj.Key,
			"-size", strconv.FormatInt(obj.Size, 10),
			"-part-size", strconv.FormatInt(e.cfg.partSize, 10), "-concurrency", strconv.Itoa(e.cfg.concurrency),
			"-wait-go",
		},
	}
}

// rcloneFlags are rclone's knobs set to the engine's part size and concurrency. rclone
// goes multipart at size >= cutoff while the engine does at size > part size, so the
// cutoff is 1 KiB above the part size. Sizes are given in KiB ("k"): rclone reads a bare
// number as KiB and misreads a "B" suffix here (1.60 went multipart with a cutoff of
// "16777217B" for a 16 MiB object); verify checks the part count of every copy.
func rcloneFlags(cfg config) []string {
	kib := cfg.partSize / 1024 // parseFlags makes the part size a whole number of KiB
	return []string{
		"--s3-chunk-size", strconv.FormatInt(kib, 10) + "k",
		"--s3-upload-cutoff", strconv.FormatInt(kib+1, 10) + "k",
		"--s3-upload-concurrency", strconv.Itoa(cfg.concurrency),
		"--s3-no-check-bucket", // the bucket exists; the engine does not probe it either
	}
}

// rcloneSpec runs `rclone copyurl` with a remote defined only by environment variables
// and a config path in the temp folder, so no rclone.conf of this machine is used.
func (e *environment) rcloneSpec(obj sourceObject) childSpec {
	env := append(e.baseEnv(),
		"RCLONE_CONFIG_BENCHDST_TYPE=s3",
		"RCLONE_CONFIG_BENCHDST_PROVIDER=Minio",
		"RCLONE_CONFIG_BENCHDST_ENV_AUTH=false",
		"RCLONE_CONFIG_BENCHDST_ACCESS_KEY_ID="+e.minio.AccessKeyID,
		"RCLONE_CONFIG_BENCHDST_SECRET_ACCESS_KEY="+e.minio.SecretAccessKey,
		"RCLONE_CONFIG_BENCHDST_ENDPOINT="+e.minio.Endpoint,
		"RCLONE_CONFIG_BENCHDST_REGION=us-east-1",
	)
	args := append([]string{
		"copyurl", e.sourceURL(obj), "benchdst:" + destBucket + "/" + obj.Key,
		"--config", filepath.Join(e.tmp, "rclone.conf"),
		"--log-level", "ERROR",
	}, rcloneFlags(e.cfg)...)
	if e.cfg.profileDir != "" {
		args = append(args, "--cpuprofile", e.profilePath("rclone", obj))
	}
	return childSpec{Name: cRclone, Path: e.cfg.rclone, Args: args, Env: env}
}

func (e *environment) rcloneVersion(ctx context.Context) string {
	if !slices.Contains(e.cfg.contenders, "rclone") {
		return ""
	}
	out, err := exec.CommandContext(ctx, e.cfg.rclone, "version").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return first
}

// slowest combines the two halves of the ceiling: a copy cannot beat the slower one.
func slowest(a, b measurement) measurement {
	if b.Seconds > a.Seconds {
		a, b = b, a
	}
	a.HasRSS = false
	return a
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
