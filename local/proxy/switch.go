// Package proxy holds the small proxies the end-to-end harness puts in front
// of its stand-ins: a TCP proxy that can take an origin "down" and bring it
// back, an HTTP proxy that counts the S3 calls that write objects, and one
// that makes the S3 stand-in read a literal "+" in a path as S3 does. Test
// and demo harness only.
package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Switch is a TCP proxy on 127.0.0.1 that forwards to a target while up and,
// while down, resets every connection (new ones at once, open ones when it
// goes down), which clients see as the server being unreachable.
type Switch struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	down    bool
	refused int
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// NewSwitch listens on a free 127.0.0.1 port and forwards to target
// (host:port).
func NewSwitch(target string) (*Switch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("switch listener: %w", err)
	}
	s := &Switch{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is host:port of the proxy.
func (s *Switch) Addr() string { return s.ln.Addr().String() }

// SetDown takes the target down (true) or brings it back (false).
func (s *Switch) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	var open []net.Conn
	if down {
		for c := range s.conns {
			open = append(open, c)
		}
	}
	s.mu.Unlock()
	for _, c := range open {
		reset(c)
	}
}

// Refused counts connections reset while down.
func (s *Switch) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *Switch) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.down {
			s.refused++
			s.mu.Unlock()
			reset(c)
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

func (s *Switch) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	up, err := net.Dial("tcp", s.target)
	if err != nil {
		reset(c)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); closeWrite(up); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

// Close stops accepting, resets open connections and waits for them.
func (s *Switch) Close() error {
	err := s.ln.Close()
	s.SetDown(true)
	s.wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close switch: %w", err)
	}
	return nil
}

// reset closes with SO_LINGER 0, so the peer gets a RST rather than a
// clean end of stream.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}
