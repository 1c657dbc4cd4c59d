package mediamigration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/queries"
)

// Options describe one migration run over a plan.
type Options struct {
	Root   string
	Client *cloudinary.Client
	// Tag is put on every upload (the app's MEDIA_TAG).
	Tag         string
	Q           *queries.Queries
	RunID       int64
	Concurrency int
	// DeleteLocal removes a local file once it is verified in Cloudinary, and never otherwise.
	DeleteLocal bool
	// Progress gets the running totals after every file; the caller throttles what it persists or draws.
	Progress func(Counts)
	Log      *slog.Logger
	// Scrub removes configured secrets from a per-file failure before it is stored or reported (nil: as is).
	Scrub func(string) string
}

// Counts are a run's running totals.
type Counts struct {
	Total      int   `json:"total"`
	TotalBytes int64 `json:"total_bytes"`
	Done       int   `json:"done"`
	DoneBytes  int64 `json:"done_bytes"`
	Uploaded   int   `json:"uploaded"`
	Verified   int   `json:"verified"`
	Skipped    int   `json:"skipped"`
	Failed     int   `json:"failed"`
	Deleted    int   `json:"deleted"`
}

// Failure is one file that did not make it, with the reason a person can act on.
type Failure struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Outcome is a finished run.
type Outcome struct {
	Counts
	Failures []Failure `json:"failures,omitempty"`
}

// maxListedFailures keeps the run's details readable; the ledger holds every failure.
const maxListedFailures = 100

// Run migrates every item with bounded concurrency. Per-file problems are recorded in the ledger and the
// outcome, never returned: only a broken catalog or a cancelled context ends the run early.
func Run(ctx context.Context, o Options, items []Item) (*Outcome, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 4
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Scrub == nil {
		o.Scrub = func(s string) string { return s }
	}
	out := &Outcome{}
	for _, it := range items {
		out.Total++
		out.TotalBytes += it.Size
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	for _, it := range items {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			res, err := migrateOne(gctx, o, it)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			out.add(it, res)
			if o.Progress != nil {
				o.Progress(out.Counts)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}
	return out, ctx.Err()
}

// fileResult is what happened to one file.
type fileResult struct {
	uploaded, verified, skipped, deleted bool
	failure                              string
}

func (o *Outcome) add(it Item, r fileResult) {
	o.Done++
	o.DoneBytes += it.Size
	switch {
	case r.failure != "":
		o.Failed++
		if len(o.Failures) < maxListedFailures {
			o.Failures = append(o.Failures, Failure{Path: it.Rel, Error: r.failure})
		}
	case r.skipped:
		o.Skipped++
	case r.verified:
		o.Verified++
	}
	if r.uploaded {
		o.Uploaded++
	}
	if r.deleted {
		o.Deleted++
	}
}

// migrateOne hashes, uploads and verifies one file. The returned error is for catalog failures only.
func migrateOne(ctx context.Context, o Options, it Item) (fileResult, error) {
	full := filepath.Join(o.Root, filepath.FromSlash(it.Rel))
	sum, err := hashFile(full)
	if err != nil {
		return fileResult{failure: fmt.Sprintf("cannot read: %v", err)}, nil
	}
	prev, err := o.Q.MediaAssetGetByPath(ctx, it.Rel)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fileResult{}, err
	}
	// Verified under another name (an earlier naming, a changed prefix) is not verified for the app: upload again.
	if err == nil && (prev.Status == "verified" || prev.Status == "deleted") && prev.Size == sum.size && prev.Sha256 == sum.sha256 &&
		prev.PublicID == it.PublicID && prev.ResourceType == it.ResourceType {
		r := fileResult{skipped: true}
		if o.DeleteLocal {
			r.deleted, r.failure = deleteVerified(ctx, o, it.Rel, full, sum)
		}
		return r, nil
	}
	runID := o.RunID
	if _, err := o.Q.MediaAssetUpsertPending(ctx, queries.MediaAssetUpsertPendingParams{RelPath: it.Rel,
		Size: sum.size, Sha256: sum.sha256, Md5: sum.md5, RunID: &runID}); err != nil {
		return fileResult{}, err
	}
	fail := func(msg string) (fileResult, error) {
		msg = o.Scrub(msg)
		err := o.Q.MediaAssetFail(context.WithoutCancel(ctx), queries.MediaAssetFailParams{RelPath: it.Rel, Error: msg, RunID: &runID})
		return fileResult{failure: msg}, err
	}
	if it.Problem != "" {
		return fail("the app cannot resolve this file under its name: " + it.Problem)
	}
	if it.Conflict != "" {
		return fail(fmt.Sprintf("%s public id %s is already used by %s; rename one of the two files", it.ResourceType, it.PublicID, it.Conflict))
	}
	up, err := o.Client.Upload(ctx, full, cloudinary.UploadTarget{PublicID: it.PublicID, ResourceType: it.ResourceType, Tag: o.Tag})
	if err != nil {
		if ctx.Err() != nil {
			return fileResult{}, ctx.Err()
		}
		return fail(err.Error())
	}
	status, msg := "verified", ""
	switch {
	case up.PublicID != it.PublicID || up.ResourceType != it.ResourceType:
		status = "uploaded"
		msg = fmt.Sprintf("Cloudinary stored it as %s %s instead of %s %s; the app would not find it",
			up.ResourceType, up.PublicID, it.ResourceType, it.PublicID)
	case up.Bytes != sum.size || !strings.EqualFold(strings.Trim(up.Etag, `"`), sum.md5):
		status = "uploaded"
		msg = fmt.Sprintf("Cloudinary stored %d bytes with etag %s; the local file has %d bytes and MD5 %s",
			up.Bytes, up.Etag, sum.size, sum.md5)
	}
	if _, err := o.Q.MediaAssetRecordUpload(context.WithoutCancel(ctx), queries.MediaAssetRecordUploadParams{
		RelPath: it.Rel, Status: status, PublicID: up.PublicID, ResourceType: up.ResourceType, Version: up.Version,
		SecureUrl: up.SecureURL, Bytes: up.Bytes, Etag: up.Etag, Error: msg}); err != nil {
		return fileResult{}, err
	}
	r := fileResult{uploaded: true, verified: status == "verified", failure: msg}
	if r.verified && o.DeleteLocal {
		r.deleted, r.failure = deleteVerified(ctx, o, it.Rel, full, sum)
	}
	return r, nil
}

// deleteVerified removes the local copy of a verified file, unless it changed since it was hashed.
func deleteVerified(ctx context.Context, o Options, rel, full string, sum fileSum) (bool, string) {
	st, err := os.Stat(full)
	if err != nil || st.Size() != sum.size || !st.ModTime().Equal(sum.mtime) {
		return false, "changed on disk after it was verified; kept, will be uploaded again next run"
	}
	if err := os.Remove(full); err != nil {
		return false, fmt.Sprintf("verified but could not delete the local copy: %v", err)
	}
	if err := o.Q.MediaAssetMarkDeleted(context.WithoutCancel(ctx), rel); err != nil {
		o.Log.Warn("local file deleted but the ledger was not updated", "path", rel, "error", err)
	}
	return true, ""
}
