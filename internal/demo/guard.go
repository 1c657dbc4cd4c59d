package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// DatabaseMark is the COMMENT ON DATABASE Seed leaves on a database it filled. Seed writes only into a
// database that is empty (no tables, views, sequences or functions outside the system schemas) or carries
// this mark, so demo data never replaces a real clinic's tables.
const DatabaseMark = "pisbackup demo clinic data (demo-seed); demo-seed may rebuild it"

// MediaMark is the file SeedMedia leaves at the top of a media folder it filled. SeedMedia writes only into a
// folder that is missing, empty, or holds this file, so demo files never overwrite a clinic's uploads.
const MediaMark = ".pisbackup-demo"

// ErrNotDemo is wrapped by the refusals of Seed and SeedMedia: the target holds data demo-seed did not put
// there.
var ErrNotDemo = errors.New("not a demo target")

// checkDatabase runs inside Seed's transaction: the database must be empty or marked as demo, and it is
// locked against a concurrent Seed (the advisory lock ends with the transaction).
func checkDatabase(ctx context.Context, tx pgx.Tx) error {
	var name, comment string
	var objects int64
	err := tx.QueryRow(ctx, `SELECT current_database(), COALESCE(shobj_description(d.oid, 'pg_database'), ''),
		(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		    AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%')
		+ (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
		    AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = p.oid AND x.deptype = 'e'))
		FROM pg_database d WHERE d.datname = current_database()`).Scan(&name, &comment, &objects)
	if err != nil {
		return fmt.Errorf("demo: inspect the target database: %w", err)
	}
	if comment == DatabaseMark || objects == 0 {
		return nil
	}
	return fmt.Errorf("%w: demo-seed refuses to write into database %q: it holds %d tables, views or functions and is not marked as demo data; "+
		"set SOURCE_DATABASE_URL to a new database name (demo-seed creates it)", ErrNotDemo, name, objects)
}

// markDatabase sets DatabaseMark on the current database (its owner may; Seed creates it as that owner).
func markDatabase(ctx context.Context, tx pgx.Tx) error {
	var name string
	if err := tx.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" IS '"+DatabaseMark+"'")
	if err != nil {
		return fmt.Errorf("demo: mark database %q as demo data: %w", name, err)
	}
	return nil
}

// checkMediaDir allows a missing or empty folder, or one holding MediaMark as a regular file.
func checkMediaDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("demo: media folder %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if fi, err := os.Lstat(filepath.Join(dir, MediaMark)); err == nil && fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%w: demo-seed refuses to write into media folder %s: it holds %d entries and no %s mark; "+
		"set MEDIA_ROOT to an empty folder (demo-seed creates it)", ErrNotDemo, dir, len(entries), MediaMark)
}

// CheckDatabase reports, without changing anything, whether Seed would write into the database at connString
// (empty or marked as demo); the error wraps ErrNotDemo when it would refuse.
func CheckDatabase(ctx context.Context, db *dbconn.Settings) error {
	conn, err := db.Connect(ctx)
	if err != nil {
		return fmt.Errorf("demo: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("demo: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	return checkDatabase(ctx, tx)
}

// CheckMedia reports, without changing anything, whether SeedMedia would write into dir (missing, empty or
// marked as demo); the error wraps ErrNotDemo when it would refuse.
func CheckMedia(dir string) error { return checkMediaDir(dir) }

// MediaUntouched reports whether dir is missing or empty, the only folders `demo-seed --if-missing` fills.
func MediaUntouched(dir string) bool {
	entries, err := os.ReadDir(dir)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0)
}
