package pgclient_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/pgclient/pgclienttest"
)

func TestNewestSuitableClientIsChosen(t *testing.T) {
	t.Parallel()
	root := pgclienttest.Layout(t, "14.9", "15.20", "17.1")
	f := pgclient.Finder{Roots: []string{root}}
	for _, server := range []string{"14.2", "15.20 (Debian 15.20-0+deb12u1)", "17.0"} {
		c, err := f.For(context.Background(), "pg_dump", server)
		require.NoError(t, err, server)
		require.Equal(t, "17.1", c.Version, server)
		require.Equal(t, filepath.Join(root, "17", "bin", "pg_dump"), c.Path)
		require.Len(t, c.Found, 3)
		require.Equal(t, []string{"17.1", "15.20", "14.9"}, []string{c.Found[0].Version, c.Found[1].Version, c.Found[2].Version})
	}
}

func TestOnlyOlderClientsNameServerAndClients(t *testing.T) {
	t.Parallel()
	root := pgclienttest.Layout(t, "14.9", "15.20")
	f := pgclient.Finder{Roots: []string{root}}
	_, err := f.For(context.Background(), "pg_restore", "16.4")
	var mm *pgclient.MismatchError
	require.True(t, errors.As(err, &mm), "%v", err)
	require.Contains(t, err.Error(), "PostgreSQL 16")
	require.Contains(t, err.Error(), "16.4")
	require.Contains(t, err.Error(), "15.20 ("+filepath.Join(root, "15", "bin", "pg_restore")+")")
	require.Contains(t, err.Error(), "14.9")
	require.Contains(t, err.Error(), "postgresql-client-16")
}

func TestBinDirPinsTheChoice(t *testing.T) {
	t.Parallel()
	root := pgclienttest.Layout(t, "17.1")
	dir := pgclienttest.BinDir(t, "14.9")
	f := pgclient.Finder{BinDir: dir, Roots: []string{root}}
	_, err := f.For(context.Background(), "pg_dump", "15.3")
	require.ErrorContains(t, err, "PG_BIN_DIR is 14.9")
	require.ErrorContains(t, err, "PostgreSQL 15 (server 15.3)")

	f.BinDir = pgclienttest.BinDir(t, "15.8")
	c, err := f.For(context.Background(), "pg_dump", "15.3")
	require.NoError(t, err)
	require.Equal(t, "15.8", c.Version)
	require.Equal(t, "PG_BIN_DIR", c.From)
}

func TestNothingInstalled(t *testing.T) {
	t.Parallel()
	f := pgclient.Finder{Roots: []string{t.TempDir()}, Path: t.TempDir()}
	_, err := f.For(context.Background(), "pg_dump", "15.3")
	var nf *pgclient.NotFoundError
	require.True(t, errors.As(err, &nf))
	require.ErrorContains(t, err, "pg_dump not found")
}

func TestPathAfterRootsAndOldServers(t *testing.T) {
	t.Parallel()
	root := pgclienttest.Layout(t, "15.2")
	pathDir := pgclienttest.BinDir(t, "15.2")
	f := pgclient.Finder{Roots: []string{root}, Path: pathDir}
	c, err := f.For(context.Background(), "pg_dump", "9.6.24")
	require.NoError(t, err)
	require.Equal(t, root, c.From, "equal versions: the search root wins over PATH")
	require.Len(t, c.Found, 2)
	// 9.6 is a major of its own: a 9.5 client is too old for it.
	old := pgclient.Finder{BinDir: pgclienttest.BinDir(t, "9.5.25")}
	_, err = old.For(context.Background(), "pg_dump", "9.6.24")
	require.ErrorContains(t, err, "PostgreSQL 9.6")
}
