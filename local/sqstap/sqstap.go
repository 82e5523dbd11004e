// Package sqstap is a reverse proxy in front of the SQS stand-in that
// records every SendMessage passing through it, so the harness can say
// which viewer request queued what (and tests can count messages) without
// depending on the edge handler's log wording. Test and demo harness only.
package sqstap

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/backtoorigin/backtoorigin/local/proxy"
)

// Send is one SendMessage seen by the tap.
type Send struct {
	QueueURL        string
	Body            string
	GroupID         string
	DeduplicationID string
	Key             string // the transfer message's "key", if the body has one
	Status          int    // the stand-in's HTTP status
	At              time.Time
}

// Tap is an http.Handler forwarding to the stand-in.
type Tap struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	sends []Send
	// OnSend, if set, is called for each SendMessage once answered.
	OnSend func(Send)
}

// New returns a tap forwarding to target (http://127.0.0.1:PORT).
func New(target *url.URL) *Tap {
	t := &Tap{proxy: httputil.NewSingleHostReverseProxy(target)}
	t.proxy.Transport = &http.Transport{Proxy: nil}
	return t
}

func (t *Tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The JSON protocol names the action in X-Amz-Target.
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessage" {
		t.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		QueueURL               string `json:"QueueUrl"`
		MessageBody            string
		MessageGroupID         string `json:"MessageGroupId"`
		MessageDeduplicationID string `json:"MessageDeduplicationId"`
	}
	_ = json.Unmarshal(body, &in)
	var msg struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal([]byte(in.MessageBody), &msg)
	rec := proxy.NewStatusRecorder(w)
	t.proxy.ServeHTTP(rec, r)
	s := Send{
		QueueURL: in.QueueURL, Body: in.MessageBody, GroupID: in.MessageGroupID,
		DeduplicationID: in.MessageDeduplicationID, Key: msg.Key, Status: rec.Status, At: time.Now(),
	}
	t.mu.Lock()
	t.sends = append(t.sends, s)
	t.mu.Unlock()
	if t.OnSend != nil {
		t.OnSend(s)
	}
}

// Sends returns the SendMessage calls seen so far.
func (t *Tap) Sends() []Send {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Send(nil), t.sends...)
}

// SendsFor returns the SendMessage calls whose message names key.
func (t *Tap) SendsFor(key string) []Send {
	var out []Send
	for _, s := range t.Sends() {
		if s.Key == key {
			out = append(out, s)
		}
	}
	return out
}
