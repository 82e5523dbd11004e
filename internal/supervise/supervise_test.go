package supervise

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStopTerminatesThenKillsAChildThatIgnoresSIGTERM(t *testing.T) {
	// GIVEN a child that ignores SIGTERM
	cmd := exec.Command("sh", "-c", `trap "" TERM; echo ready; while :; do sleep 1; done`)
	out := &TailBuffer{}
	cmd.Stdout = out
	p, err := Start(cmd, Options{Name: "stubborn", OwnGroup: true})
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "ready") {
		select {
		case <-p.Exited():
			t.Fatalf("child exited early: %v", p.Wait())
		case <-time.After(10 * time.Millisecond):
		}
	}
	// WHEN it is stopped with a short grace period
	start := time.Now()
	p.Stop(300 * time.Millisecond)
	// THEN it was killed after the grace period, and waited for
	select {
	case <-p.Exited():
	default:
		t.Fatal("Stop returned before the child exited")
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("stopped after %s: the child was killed before its grace period", took)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("exit = %v, want killed", err)
	}
}

func TestStopLetsAChildExitOnSIGTERMAndLeavesAnExitedOneAlone(t *testing.T) {
	p, err := Start(exec.Command("sleep", "30"), Options{Name: "sleep"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(10 * time.Second)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("sleep took %s to stop: SIGTERM was not sent", took)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("exit = %v, want terminated by SIGTERM", err)
	}
	p.Stop(time.Second) // a second Stop of an exited child returns at once
	p.Kill()
}

func TestWaitTCPNamesAChildThatExitsBeforeListening(t *testing.T) {
	cmd := exec.Command("sh", "-c", "echo no port for you; exit 3")
	out := &TailBuffer{}
	cmd.Stdout = out
	p, err := Start(cmd, Options{Name: "quitter"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitTCP(context.Background(), "127.0.0.1:1", out)
	if err == nil || !strings.Contains(err.Error(), "quitter exited before listening") || !strings.Contains(err.Error(), "no port for you") {
		t.Errorf("WaitTCP = %v, want the child's name and what it said", err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &TailBuffer{Limit: 10}
	for i := 0; i < 5; i++ {
		b.Write([]byte("0123456789"))
	}
	if got := b.String(); len(got) > 20 || !strings.HasSuffix(got, "0123456789") {
		t.Errorf("tail = %q, want at most 20 bytes ending with the last write", got)
	}
}
