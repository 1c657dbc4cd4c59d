package backup_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

// Sibling of the generated-column input: the function reads a table in another schema that pg_restore loads
// after the generated column's table.
func TestDrillGeneratedColumnReadingLaterSchema(t *testing.T) {
	t.Parallel()
	src := sourceWith(t, `
		CREATE SCHEMA zz; CREATE SCHEMA aa;
		CREATE TABLE zz.rates(code text PRIMARY KEY, factor int); INSERT INTO zz.rates VALUES ('A',10),('B',20);
		CREATE FUNCTION aa.rate_of(c text) RETURNS int IMMUTABLE LANGUAGE plpgsql
		  AS $$BEGIN RETURN coalesce((SELECT factor FROM zz.rates WHERE code=c),-1); END$$;
		CREATE TABLE aa.items(id int, code text, factor int GENERATED ALWAYS AS (aa.rate_of(code)) STORED);
		INSERT INTO aa.items VALUES (1,'A'),(2,'B');`)
	o, _ := drillOf(t, src)
	_, err := backup.Drill(context.Background(), o)
	require.Error(t, err)
	require.ErrorContains(t, err, "aa.items (content)")
}
