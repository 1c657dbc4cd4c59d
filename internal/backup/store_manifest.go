package backup

import (
	"context"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/uscpis/pisbackup/internal/storage"
)

type ageRecipient = age.Recipient

// PutManifest publishes the sidecar of artifactKey through the same temp-then-commit path as artifacts.
func PutManifest(ctx context.Context, st storage.Store, artifactKey string, m *Manifest) error {
	key := storage.ManifestKey(artifactKey)
	w, err := st.Create(ctx, key)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if _, err := w.Write(m.JSON()); err != nil {
		_ = w.Abort()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("publish manifest: %w", err)
	}
	return nil
}

// GetManifest reads the sidecar of artifactKey.
func GetManifest(ctx context.Context, st storage.Store, artifactKey string) (*Manifest, error) {
	r, err := st.Open(ctx, storage.ManifestKey(artifactKey))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return nil, err
	}
	return ParseManifest(b)
}
