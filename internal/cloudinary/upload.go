package cloudinary

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/cloudinary/cloudinary-go/v2/api"
	"github.com/cloudinary/cloudinary-go/v2/api/uploader"
)

// RetryPolicy bounds retries of answers worth retrying (429, 5xx, connection failures).
type RetryPolicy struct {
	Attempts int           // total tries, first included
	Base     time.Duration // first backoff, doubled each time, with jitter
	Max      time.Duration // cap of one wait, Retry-After included
}

// DefaultRetry rides out a rate limit window or a short outage without stalling a run for long.
var DefaultRetry = RetryPolicy{Attempts: 6, Base: 500 * time.Millisecond, Max: 2 * time.Minute}

// Uploaded is what Cloudinary stored for one file.
type Uploaded struct {
	PublicID     string
	ResourceType string
	Version      int64
	SecureURL    string
	Bytes        int64
	Etag         string
}

// UploadError is a final per-file failure; Status is the last HTTP status (0 when the server was not reached).
type UploadError struct {
	Status   int
	Attempts int
	Msg      string
}

func (e *UploadError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("upload failed after %d attempt(s): %s", e.Attempts, e.Msg)
	}
	return fmt.Sprintf("upload failed (HTTP %d, %d attempt(s)): %s", e.Status, e.Attempts, e.Msg)
}

// UploadTarget is where one file goes: its exact public id, resource type (image, raw or video; "" lets
// Cloudinary choose, which no caller that must match an app's naming should do) and tag.
type UploadTarget struct {
	PublicID     string
	ResourceType string
	Tag          string
}

// Upload sends the local file to the target (overwriting an earlier upload of the same id), retrying 429/420
// (after Retry-After when given), 5xx and connection failures with exponential backoff. Other errors are final.
func (c *Client) Upload(ctx context.Context, localPath string, t UploadTarget) (*Uploaded, error) {
	rt := t.ResourceType
	if rt == "" {
		rt = "auto"
	}
	params := uploader.UploadParams{PublicID: t.PublicID, ResourceType: rt, Overwrite: api.Bool(true),
		UniqueFilename: api.Bool(false), UseFilename: api.Bool(false), Invalidate: api.Bool(true)}
	if t.Tag != "" {
		params.Tags = []string{t.Tag}
	}
	var last *UploadError
	for attempt := 1; ; attempt++ {
		res, status, wait, err := c.uploadOnce(ctx, localPath, params)
		if err == nil {
			return res, nil
		}
		last = &UploadError{Status: status, Attempts: attempt, Msg: err.Error()}
		// 420 is how Cloudinary's APIs have long said "rate limited"; treat it like 429.
		retryable := status == 0 || status == http.StatusTooManyRequests || status == 420 || status >= 500
		if !retryable || attempt >= c.Retry.Attempts || ctx.Err() != nil {
			return nil, last
		}
		if wait <= 0 {
			wait = c.Retry.Base << (attempt - 1)
			wait += time.Duration(rand.Int64N(int64(wait)/2 + 1))
		}
		wait = min(wait, c.Retry.Max)
		select {
		case <-ctx.Done():
			return nil, last
		case <-time.After(wait):
		}
	}
}

func (c *Client) uploadOnce(ctx context.Context, localPath string, p uploader.UploadParams) (*Uploaded, int, time.Duration, error) {
	f, err := os.Open(localPath)
	if err != nil {
		return nil, -1, 0, err
	}
	defer f.Close()
	ctx, info := withCall(ctx)
	res, err := c.up.Upload(ctx, f, p)
	wait := retryAfter(info.retryAfter)
	switch {
	case err != nil && info.status == 0:
		return nil, 0, 0, unreachable(err)
	case info.status >= 400:
		msg := ""
		if res != nil {
			msg = res.Error.Message
		}
		return nil, info.status, wait, fmt.Errorf("%s", apiMessage(msg, err))
	case err != nil:
		return nil, info.status, 0, err
	case res.Error.Message != "":
		return nil, info.status, 0, fmt.Errorf("%s", res.Error.Message)
	}
	return &Uploaded{PublicID: res.PublicID, ResourceType: res.ResourceType, Version: int64(res.Version),
		SecureURL: res.SecureURL, Bytes: int64(res.Bytes), Etag: res.Etag}, info.status, 0, nil
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
