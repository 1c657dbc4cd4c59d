package cloudinary

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cloudinary/cloudinary-go/v2/api"
	"github.com/cloudinary/cloudinary-go/v2/api/admin"

	"github.com/uscpis/pisbackup/internal/backup"
)

// Asset is one original stored in Cloudinary.
type Asset struct {
	PublicID     string
	ResourceType string
	Format       string
	Bytes        int64
	SecureURL    string
}

// Name is the asset's file name as a backup stores it: the public id plus the format for images and videos
// (raw public ids already carry their extension).
func (a Asset) Name() string {
	if a.ResourceType != "raw" && a.Format != "" && !strings.HasSuffix(a.PublicID, "."+a.Format) {
		return a.ResourceType + "/" + a.PublicID + "." + a.Format
	}
	return a.ResourceType + "/" + a.PublicID
}

// pageSize is the Admin API's maximum page.
const pageSize = 500

// ListAssets lists every uploaded original of every resource type, following next_cursor page by page.
func (c *Client) ListAssets(ctx context.Context) ([]Asset, error) {
	var out []Asset
	for _, rt := range []api.AssetType{api.Image, api.Video, api.File} {
		cursor := ""
		for {
			cctx, info := withCall(ctx)
			res, err := c.adm.Assets(cctx, admin.AssetsParams{AssetType: rt, DeliveryType: "upload",
				MaxResults: pageSize, NextCursor: cursor})
			if err != nil && info.status == 0 {
				return nil, unreachable(err)
			}
			if info.status >= 400 || err != nil {
				return nil, fmt.Errorf("list %s resources (HTTP %d): %s", rt, info.status, apiMessage(res.Error.Message, err))
			}
			for _, a := range res.Assets {
				out = append(out, Asset{PublicID: a.PublicID, ResourceType: a.AssetType, Format: a.Format,
					Bytes: int64(a.Bytes), SecureURL: a.SecureURL})
			}
			if res.NextCursor == "" {
				break
			}
			cursor = res.NextCursor
		}
	}
	return out, nil
}

// Download opens an original by its secure URL and returns its body and length.
func (c *Client) Download(ctx context.Context, a Asset) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.SecureURL, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, unreachable(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("download %s: HTTP %d", a.PublicID, resp.StatusCode)
	}
	n := resp.ContentLength
	if n < 0 {
		n = a.Bytes
	}
	return resp.Body, n, nil
}

// Originals adapts the asset list for backup.DumpMedia: each asset becomes a tar entry downloaded while the
// archive is written, so nothing lands on disk.
func (c *Client) Originals(ctx context.Context) ([]backup.RemoteFile, error) {
	assets, err := c.ListAssets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]backup.RemoteFile, 0, len(assets))
	for _, a := range assets {
		out = append(out, backup.RemoteFile{Name: a.Name(), Size: a.Bytes,
			Open: func(ctx context.Context) (io.ReadCloser, int64, error) { return c.Download(ctx, a) }})
	}
	return out, nil
}
