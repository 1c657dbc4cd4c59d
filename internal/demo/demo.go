// Package demo builds a synthetic clinic database shaped like USC-PIS (the
// Django Patient Information System of the University of San Carlos clinic)
// together with a small media tree, so backup tooling can be developed,
// tested and benchmarked without touching real patient data.
//
// Everything is deterministic: the same Options (or media seed) always
// produce byte-for-byte the same rows and files. All people are synthetic
// combinations of common Filipino given names and surnames.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// Options tunes the size and content of the data Seed generates.
type Options struct {
	// Patients is the number of patients (and patient user accounts) to
	// create; every other table scales from it. Zero means 200.
	Patients int
	// Seed drives math/rand/v2 (PCG) so runs are reproducible. Zero means 1.
	Seed int64
}

// withDefaults fills zero fields, so Options{} is a usable small demo.
func (o Options) withDefaults() (Options, error) {
	if o.Patients < 0 {
		return o, fmt.Errorf("demo: Patients must be >= 0, got %d", o.Patients)
	}
	if o.Patients == 0 {
		o.Patients = 200
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o, nil
}

// MissingFiles lists the media paths Seed references on purpose although
// SeedMedia never writes them, mimicking files lost on a real server. There
// are exactly two, independent of Options:
//   - the last file_uploads_patientdocument row (id = Patients) has file
//     "patient_documents/2024/12/missing_scan.pdf";
//   - the last health_info_healthcampaign row (id 6) has pubmat_image
//     "campaigns/pubmats/missing_pubmat.png".
//
// Every other non-NULL value of config.DefaultFileColumns (the clinic app's FileField/ImageField columns,
// all present in the demo schema) names a file SeedMedia writes.
var MissingFiles = []string{
	missingDocument,
	missingPubmat,
}

const (
	missingDocument = "patient_documents/2024/12/missing_scan.pdf"
	missingPubmat   = "campaigns/pubmats/missing_pubmat.png"
)

// EnsureDatabase creates database name on the server s reaches unless it already exists. It always connects
// to the "postgres" maintenance database, because s may well point at the very database that does not exist
// yet.
func EnsureDatabase(ctx context.Context, s *dbconn.Settings, name string) error {
	if name == "" {
		return errors.New("demo: empty database name")
	}
	return s.Err(ensureDatabase(ctx, s, name))
}

// EnsureDatabaseFor creates the database s names (resolved as libpq resolves it: dbname, PGDATABASE, service
// file, else the user name) when it does not exist, connecting to "postgres" on the same server with the same
// credentials.
func EnsureDatabaseFor(ctx context.Context, s *dbconn.Settings) (name string, err error) {
	name = s.Database()
	if name == "" {
		return "", errors.New("no database name (set dbname or the user)")
	}
	return name, s.Err(ensureDatabase(ctx, s, name))
}

func ensureDatabase(ctx context.Context, s *dbconn.Settings, name string) error {
	conn, err := s.WithDatabase("postgres").Connect(ctx)
	if err != nil {
		return fmt.Errorf("demo: connect to postgres database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return fmt.Errorf("demo: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	// CREATE DATABASE takes no bind parameters, hence the quoted identifier.
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" {
		return nil // duplicate_database: a concurrent caller won the race
	}
	if err != nil {
		return fmt.Errorf("demo: create database %q: %w", name, err)
	}
	return nil
}
