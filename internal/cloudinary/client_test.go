package cloudinary_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/cloudinary/cloudinarytest"
)

func TestPingSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	srv := cloudinarytest.New(t)
	ctx := context.Background()
	c, err := cloudinary.New(srv.CloudinaryURL())
	require.NoError(t, err)
	require.NoError(t, c.Ping(ctx))

	bad, err := cloudinary.New(strings.Replace(srv.CloudinaryURL(), srv.Secret, "wrong", 1))
	require.NoError(t, err)
	err = bad.Ping(ctx)
	require.ErrorContains(t, err, "rejected the credentials")
	require.NotContains(t, err.Error(), "wrong", "the secret never appears in errors")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	down, err := cloudinary.New("cloudinary://k:s@c?upload_prefix=http://" + addr)
	require.NoError(t, err)
	require.ErrorContains(t, down.Ping(ctx), "unreachable")

	_, err = cloudinary.New("")
	require.ErrorIs(t, err, cloudinary.ErrNotConfigured)
}

func TestUploadIsSignedAndBadSignaturesAreFinal(t *testing.T) {
	t.Parallel()
	srv := cloudinarytest.New(t)
	p := filepath.Join(t.TempDir(), "x & y.png")
	require.NoError(t, os.WriteFile(p, []byte("png bytes"), 0o644))
	c, err := cloudinary.New(srv.CloudinaryURL())
	require.NoError(t, err)
	up, err := c.Upload(context.Background(), p, cloudinary.UploadTarget{PublicID: "usc_pis_media/x_&_y"})
	require.NoError(t, err, "a public id with '&' is signed the way Cloudinary expects")
	require.Equal(t, "image", up.ResourceType)
	require.Equal(t, int64(9), up.Bytes)

	// The key is right but the secret is not: the server rejects the signature, and 401 is not retried.
	forged, err := cloudinary.New(strings.Replace(srv.CloudinaryURL(), srv.Secret, "not-the-secret", 1))
	require.NoError(t, err)
	before := srv.RequestCount()
	_, err = forged.Upload(context.Background(), p, cloudinary.UploadTarget{PublicID: "usc_pis_media/forged"})
	var ue *cloudinary.UploadError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, 401, ue.Status)
	require.Equal(t, 1, ue.Attempts)
	require.Contains(t, ue.Msg, "Invalid Signature")
	require.Equal(t, before+1, srv.RequestCount())
}

func TestListFollowsNextCursorAndDownloads(t *testing.T) {
	t.Parallel()
	srv := cloudinarytest.New(t)
	srv.PageSize = 2
	c, err := cloudinary.New(srv.CloudinaryURL())
	require.NoError(t, err)
	c.Retry.Base = time.Millisecond
	dir := t.TempDir()
	for i, name := range []string{"a.png", "b.jpg", "c.png", "d.csv", "e.png"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(strings.Repeat(name, i+1)), 0o644))
		_, err := c.Upload(context.Background(), p, cloudinary.UploadTarget{PublicID: "usc_pis_media/" + strings.TrimSuffix(name, filepath.Ext(name))})
		require.NoError(t, err)
	}
	files, err := c.Originals(context.Background())
	require.NoError(t, err)
	require.Len(t, files, 5, "five assets over three pages of two")
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		body, n, err := f.Open(context.Background())
		require.NoError(t, err)
		b, err := io.ReadAll(body)
		body.Close()
		require.NoError(t, err)
		require.Equal(t, int64(len(b)), n)
	}
	require.Contains(t, names, "image/usc_pis_media/e.png")
	require.Contains(t, names, "raw/usc_pis_media/d")
}
