package backup

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pg_restore 15's stderr for a view and a large object that could not be created (captured from a real
// restore): the large object's verbose line has no quotes, and its problem must name the large object, not the
// view before it, so a drill ties the large-object difference to the right problem.
func TestProblemCollectorNamesLargeObjects(t *testing.T) {
	t.Parallel()
	c := newProblemCollector()
	_, err := c.Write([]byte(strings.Join([]string{
		`pg_restore: creating VIEW "public.v"`,
		`pg_restore: from TOC entry 215; 1259 59396 VIEW v postgres`,
		`pg_restore: error: could not execute query: ERROR:  relation "v" already exists`,
		`Command was: CREATE VIEW public.v AS`,
		` SELECT t.id`,
		`   FROM public.t;`,
		``,
		`pg_restore: executing BLOB 59406`,
		`pg_restore: from TOC entry 3361; 2613 59406 BLOB 59406 postgres`,
		`pg_restore: error: could not execute query: ERROR:  duplicate key value violates unique constraint "pg_largeobject_metadata_oid_index"`,
		`DETAIL:  Key (oid)=(59406) already exists.`,
		`Command was: SELECT pg_catalog.lo_create('59406');`,
		`pg_restore: processing data for table "public.t"`,
		`pg_restore: processing BLOBS`,
		`pg_restore: restoring large object with OID 59406`,
		`pg_restore: warning: errors ignored on restore: 2`,
		``}, "\n")))
	require.NoError(t, err)
	p := c.finish()
	require.Len(t, p.List, 2)
	require.Equal(t, "object not created: VIEW public.v: could not execute query: ERROR:  relation \"v\" already exists; Command was: CREATE VIEW public.v AS", p.List[0].String())
	require.Equal(t, "BLOB", p.List[1].Type)
	require.Equal(t, "59406", p.List[1].Object)
	require.True(t, p.List[1].DataLost)
	require.Equal(t, 1, p.DataLost)
}
