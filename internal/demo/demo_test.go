package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// adminConn reaches the local PostgreSQL 15 over its Unix socket with trust
// auth; DEMO_TEST_PG overrides it for other setups.
func adminConn() string {
	if s := os.Getenv("DEMO_TEST_PG"); s != "" {
		return s
	}
	return "host=/var/run/postgresql user=postgres dbname=postgres"
}

// newTestDB creates a uniquely named database and drops it when the test
// ends, so parallel runs and other packages' tests never collide.
func newTestDB(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("demo_test_%d_%d", os.Getpid(), rand.Uint32())
	require.NoError(t, EnsureDatabase(ctx, dbconn.MustParse(adminConn()), name))
	require.NoError(t, EnsureDatabase(ctx, dbconn.MustParse(adminConn()), name), "second call must be a no-op")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), adminConn())
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		require.NoError(t, err)
	})
	// Point the admin connection string at the new database, in either
	// URL or keyword/value form.
	if u, err := url.Parse(adminConn()); err == nil && strings.HasPrefix(u.Scheme, "postgres") {
		u.Path = "/" + name
		return u.String()
	}
	return adminConn() + " dbname=" + name
}

// fingerprint hashes a few columns of every kind (text, jsonb, bytea,
// timestamps) to prove reruns are byte-identical, not just equal in size.
func fingerprint(t *testing.T, conn *pgx.Conn) string {
	var s string
	err := conn.QueryRow(context.Background(), `SELECT
	  (SELECT md5(string_agg(email || password || date_joined::text, ',' ORDER BY id)) FROM authentication_user) ||
	  (SELECT md5(string_agg(emergency_contact::text || updated_at::text, ',' ORDER BY id)) FROM patients_patient) ||
	  (SELECT md5(string_agg(vital_signs::text, ',' ORDER BY id)) FROM patients_medicalrecord) ||
	  (SELECT md5(string_agg(md5(pdf) || coalesce(md5(signature), '-'), ',' ORDER BY id)) FROM medical_certificates_medicalcertificate)`).Scan(&s)
	require.NoError(t, err)
	return s
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	dsn := newTestDB(t)

	start := time.Now()
	first, err := Seed(ctx, dbconn.MustParse(dsn), Options{})
	require.NoError(t, err)
	t.Logf("seeded 200 patients in %v: %v", time.Since(start), first)

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	fp := fingerprint(t, conn)

	second, err := Seed(ctx, dbconn.MustParse(dsn), Options{Patients: 200, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, first, second)
	require.Equal(t, fp, fingerprint(t, conn), "same seed must give identical data")
	require.Len(t, second, len(Tables))
	for _, table := range Tables {
		var n int64
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		if !slices.Contains([]string{"file_uploads_uploadedfile", "health_info_campaigntemplate", "health_info_campaignresource"}, table) {
			require.NotZero(t, n, table)
		}
		require.Equal(t, second[table], n, table)
	}
	require.EqualValues(t, 200, second["patients_patient"])

	// Trigger: whatever an UPDATE writes, updated_at becomes now().
	var updated time.Time
	err = conn.QueryRow(ctx, `UPDATE patients_patient SET allergies = 'Latex', updated_at = '2001-01-01'
		WHERE id = 1 RETURNING updated_at`).Scan(&updated)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), updated, time.Minute)

	// Identity sequences were advanced past the copied ids.
	_, err = conn.Exec(ctx, `INSERT INTO feedback_feedback (patient_id, rating, comments, created_at)
		VALUES (1, 5, 'ok', now())`)
	require.NoError(t, err)

	checkMediaReferences(t, conn)

	_, err = Seed(ctx, dbconn.MustParse(dsn), Options{Patients: -1})
	require.Error(t, err)
}
