package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MarkDatabase puts mark on database name as its comment (COMMENT ON DATABASE), or removes the comment when
// mark is empty. A restore marks the database it creates until it finishes, so whoever cleans up after a
// crash can ask the server whether the database is still the one that restore created (DropMarkedTarget).
func MarkDatabase(ctx context.Context, adminURL, name, mark string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the database server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(ctx)
	value := "NULL"
	if mark != "" {
		value = "'" + escapeLiteral(mark) + "'"
	}
	_, err = conn.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" IS "+value)
	return err
}

// DropMarkedTarget drops database name only if the server says it carries exactly mark as its comment (see
// MarkDatabase); any other database of that name, or none, is left alone. It reports whether it dropped one.
func DropMarkedTarget(ctx context.Context, adminURL, name, mark string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return false, fmt.Errorf("connect to the database server: %s", RedactError(err, adminURL))
	}
	defer conn.Close(ctx)
	var marked bool
	err = conn.QueryRow(ctx, `SELECT COALESCE(shobj_description(oid, 'pg_database') = $2, false)
		FROM pg_database WHERE datname = $1`, name, mark).Scan(&marked)
	if err == pgx.ErrNoRows || (err == nil && !marked) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err == nil, err
}

func escapeLiteral(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}
