package transfer

import "fmt"

// Resume identifies a multipart upload left open by an earlier invocation
// that ran out of time. PartSize must be the size its parts were cut to.
type Resume struct {
	UploadID   string `json:"uploadId"`
	Generation string `json:"generation"`
	PartSize   int64  `json:"partSize"`
	// NoProgress counts the invocations in a row that started parts and
	// finished none; at MaxNoProgress the copy ends as OutcomeNoProgress.
	NoProgress int `json:"noProgress,omitempty"`
}

// Validate says whether r is one a copy can continue from: an upload id,
// a part size S3 accepts and a count of invocations without progress.
func (r Resume) Validate() error {
	if r.UploadID == "" || r.PartSize < minPartSize || r.PartSize > maxPartSize || r.NoProgress < 0 {
		return fmt.Errorf("resume needs an uploadId, a partSize between %d and %d and a noProgress count of 0 or more", minPartSize, maxPartSize)
	}
	return nil
}
