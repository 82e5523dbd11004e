package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Checkpoint is a backfill's resumable state: per range, the last key
// whose message SQS accepted. It is rewritten (atomically: a temporary
// file renamed over it) after every accepted batch, so a resumed run lists
// each range from after its last queued key and queues nothing twice; a
// crash between SQS accepting a batch and the rename re-sends at most that
// batch, which SQS drops as a duplicate (same deduplication id) within its
// five-minute window.
type Checkpoint struct {
	V           int               `json:"v"`
	Fingerprint string            `json:"fingerprint"` // what the backfill was asked to do
	Ranges      []CheckpointRange `json:"ranges"`
	Queued      Tally             `json:"queued"`
	Refreshed   Tally             `json:"refreshed"`

	path string
	mu   sync.Mutex
}

// CheckpointRange is one range's progress.
type CheckpointRange struct {
	Range
	Last string `json:"last,omitempty"` // last key queued (or passed) in the range
	Done bool   `json:"done,omitempty"`
}

const checkpointVersion = 1

// ErrCheckpointMismatch: the checkpoint file belongs to a different backfill.
var ErrCheckpointMismatch = errors.New("checkpoint belongs to a different backfill")

// openCheckpoint loads the checkpoint at path if it exists and matches
// fingerprint (a resumed backfill keeps the ranges it was planned with),
// or starts a new one over the ranges plan returns.
func openCheckpoint(path, fingerprint string, plan func() ([]Range, error)) (*Checkpoint, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var c Checkpoint
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, false, fmt.Errorf("checkpoint %s: %w", path, err)
		}
		if c.V != checkpointVersion || c.Fingerprint != fingerprint || len(c.Ranges) == 0 {
			return nil, false, fmt.Errorf("%s: %w (other buckets, queue, prefixes or options); delete it or pass --restart", path, ErrCheckpointMismatch)
		}
		c.path = path
		return &c, true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("checkpoint: %w", err)
	}
	ranges, err := plan()
	if err != nil {
		return nil, false, err
	}
	c := &Checkpoint{V: checkpointVersion, Fingerprint: fingerprint, path: path}
	for _, r := range ranges {
		c.Ranges = append(c.Ranges, CheckpointRange{Range: r})
	}
	return c, false, c.save()
}

// advance records that range i is queued up to key, with the totals so far.
func (c *Checkpoint) advance(i int, key string, done bool, queued, refreshed Tally) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if key != "" {
		c.Ranges[i].Last = key
	}
	c.Ranges[i].Done = c.Ranges[i].Done || done
	c.Queued, c.Refreshed = queued, refreshed
	return c.save()
}

// ranges are the planned ranges.
func (c *Checkpoint) ranges() []Range {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Range, len(c.Ranges))
	for i, r := range c.Ranges {
		out[i] = r.Range
	}
	return out
}

// resumeRange is where range i continues from.
func (c *Checkpoint) resumeRange(i int) (Range, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.Ranges[i]
	if r.Last > r.After {
		r.After = r.Last
	}
	return r.Range, r.Done
}

func (c *Checkpoint) save() error {
	if c.path == "" {
		return nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("checkpoint folder: %w", err)
	}
	tmp := c.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// remove deletes the checkpoint of a finished backfill: the next run
// starts afresh (and finds whatever is missing by then).
func (c *Checkpoint) remove() error {
	if c == nil || c.path == "" {
		return nil
	}
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
