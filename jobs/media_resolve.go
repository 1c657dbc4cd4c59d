package jobs

import (
	"context"
	"fmt"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/config"
	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/queries"
)

// MediaNaming is the clinic app's Cloudinary naming as configured (CLOUDINARY_MEDIA_PREFIX,
// CLOUDINARY_MEDIA_TAG, MEDIA_RAW_COLUMNS).
func MediaNaming(cfg *config.Config) mediamigration.Naming {
	return mediamigration.Naming{Prefix: cfg.CloudinaryMediaPrefix, Tag: cfg.CloudinaryMediaTag, RawColumns: cfg.RawFileColumns}
}

// MediaResolvability reads the clinic's FileField columns (MEDIA_REFERENCE_COLUMNS) and reports, per column,
// which stored values would not resolve under the app's Cloudinary storage. It also returns the resource
// type of every referenced path, which a migration plan needs. The page, the CLI and the API all call it.
func MediaResolvability(ctx context.Context, cfg *config.Config, q *queries.Queries) (*mediamigration.Resolvability, map[string]string, error) {
	fc, err := backup.ReadFileColumns(ctx, cfg.Source, cfg.FileColumns)
	if err != nil {
		return nil, nil, fmt.Errorf("read the clinic's FileField columns: %w", err)
	}
	n := MediaNaming(cfg)
	cloud := ""
	if c, err := cloudinary.New(cfg.CloudinaryURL); err == nil {
		cloud = c.CloudName()
	}
	rep, err := mediamigration.Resolve(ctx, mediamigration.ResolveInput{Values: fc, Columns: cfg.FileColumns, Naming: n,
		Root: cfg.MediaRoot, Cloud: cloud, Q: q})
	if err != nil {
		return nil, nil, err
	}
	return rep, mediamigration.References(fc, n, cfg.FileColumns), nil
}

// remoteAlias says where a referenced path's Cloudinary original sits in a media set: the asset the app
// requests for it under its column's storage (so a file migrated with --delete-local is not "missing").
func remoteAlias(cfg *config.Config, fc *backup.FileColumnValues) func(string) []string {
	if !cfg.CloudinaryConfigured() {
		return nil
	}
	n := MediaNaming(cfg)
	types := mediamigration.References(fc, n, cfg.FileColumns)
	return func(ref string) []string {
		rt, ok := types[ref]
		if !ok {
			return nil
		}
		return []string{backup.RemotePrefix + rt + "/" + n.AssetFor(ref, rt).PublicID}
	}
}
