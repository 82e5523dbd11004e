package standin

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// StartMinIO starts MinIO (single drive in dir) on a free 127.0.0.1 port
// as an alternative S3 stand-in. Tests use versitygw (see S3Server); this
// exists so the same rule checks can be run against MinIO, the benchmark's
// destination (set STANDIN_S3=minio for the standin tests).
func StartMinIO(ctx context.Context, dir string) (*S3Server, error) {
	bin, err := ToolPath("minio")
	if err != nil {
		return nil, err
	}
	return StartMinIOBinary(ctx, bin, dir)
}

// StartMinIOBinary is StartMinIO with a MinIO binary of the caller's choice
// (the benchmark's -minio flag).
func StartMinIOBinary(ctx context.Context, bin, dir string) (*S3Server, error) {
	return retryFreePort(func() (*S3Server, error) { return startMinIO(ctx, bin, dir) })
}

func startMinIO(ctx context.Context, bin, dir string) (*S3Server, error) {
	s, addr, err := newS3Server(dir, "http")
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr,
		"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort), dir)
	cmd.Env = append(os.Environ(),
		"HOME="+dir, // MinIO writes ~/.minio
		"MINIO_ROOT_USER="+s.AccessKeyID,
		"MINIO_ROOT_PASSWORD="+s.SecretAccessKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off")
	if s.proc, err = startProcess("minio", cmd, nil); err != nil {
		return nil, err
	}
	// A listening socket is not enough: MinIO answers 503 while it formats
	// the drive.
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	for {
		resp, err := client.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.proc.Exited():
			return nil, fmt.Errorf("minio exited before it was ready (%v): %s", s.proc.Wait(), s.proc.output.String())
		case <-waitCtx.Done():
			_ = s.proc.stop()
			return nil, fmt.Errorf("minio not ready at %s: %w: %s", s.Endpoint, waitCtx.Err(), s.proc.output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
