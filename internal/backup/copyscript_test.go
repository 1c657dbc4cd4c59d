package backup_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/uscpis/pisbackup/internal/backup"
)

func TestParseCopyHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want backup.CopyHeader
	}{
		{"COPY public.patients_patient (id, user_id, first_name) FROM stdin;",
			backup.CopyHeader{Schema: "public", Table: "patients_patient", Columns: []string{"id", "user_id", "first_name"}}},
		{`COPY "Sch.ema"."Weird ""Name""" (id, "co` + "\n" + `l", "a	b", "x, y", "(", ")", """", "FROM stdin;") FROM stdin;`,
			backup.CopyHeader{Schema: "Sch.ema", Table: `Weird "Name"`, Columns: []string{"id", "co\nl", "a\tb", "x, y", "(", ")", `"`, "FROM stdin;"}}},
		{"COPY public.nocols  FROM stdin;", backup.CopyHeader{Schema: "public", Table: "nocols", Columns: nil}},
		{`COPY "é 日本".t ("ü") FROM stdin;`, backup.CopyHeader{Schema: "é 日本", Table: "t", Columns: []string{"ü"}}},
	} {
		got, err := backup.ParseCopyHeader(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, in := range []string{`COPY public."Weird`, `COPY public."a""`, `COPY public.t ("co`} {
		_, err := backup.ParseCopyHeader(in)
		require.ErrorIs(t, err, backup.ErrIncompleteCopyHeader, in)
	}
	for _, in := range []string{"COPY t (id) FROM stdin;", "COPY public.t (id) TO stdout;", "COPY public.t (id FROM stdin;",
		`COPY public."t" (id) FROM stdin; extra`, "INSERT INTO public.t VALUES (1);"} {
		_, err := backup.ParseCopyHeader(in)
		require.Error(t, err, in)
		require.False(t, errors.Is(err, backup.ErrIncompleteCopyHeader), in)
	}
	h := backup.CopyHeader{Schema: "Sch.ema", Table: `Weird "Name"`, Columns: []string{"co\nl", "id"}}
	require.Equal(t, `COPY "Sch.ema"."Weird ""Name""" ("co`+"\n"+`l", "id") FROM STDIN`, h.Statement())
}
