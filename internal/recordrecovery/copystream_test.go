package recordrecovery

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCopyFieldsAndEscapes(t *testing.T) {
	hostile := []string{"tab\there", "new\nline", `back\slash`, `\.`, `\N`, "é 日本 🙂", "cr\r", `"quoted"`, "", "\\\t\n"}
	var fields []string
	for _, v := range hostile {
		fields = append(fields, copyEscape(v))
	}
	row := []byte(strings.Join(append(fields, `\N`), "\t"))
	require.NotContains(t, string(row), "\n", "an escaped row is one line")
	require.Equal(t, len(hostile), strings.Count(string(row), "\t"), "raw tabs only between fields")
	for i, v := range hostile {
		f, ok := copyField(row, i)
		require.True(t, ok)
		got, null := copyUnescape(f)
		require.False(t, null)
		require.Equal(t, v, got)
	}
	f, ok := copyField(row, len(hostile))
	require.True(t, ok)
	_, null := copyUnescape(f)
	require.True(t, null)
	_, ok = copyField(row, len(hostile)+1)
	require.False(t, ok)
	// Octal and hex escapes COPY FROM accepts (COPY TO never writes them).
	got, _ := copyUnescape([]byte(`\101\x42\x4a\7c\xz`))
	require.Equal(t, "ABJ\x07cxz", got)
}

type recorded struct {
	enc    string
	blocks []copyHeader
	rows   [][]string
	open   bool
}

func (r *recorded) Encoding(name string) { r.enc = name }
func (r *recorded) Begin(h copyHeader) error {
	r.blocks, r.rows, r.open = append(r.blocks, h), append(r.rows, nil), true
	return nil
}
func (r *recorded) Row(line []byte) error {
	r.rows[len(r.rows)-1] = append(r.rows[len(r.rows)-1], string(line))
	return nil
}
func (r *recorded) End() error { r.open = false; return nil }

func TestReadCopyScript(t *testing.T) {
	long := strings.Repeat("x", 3<<20) // longer than the reader's buffer
	script := "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\nSET client_encoding = 'LATIN1';\n" +
		"SET standard_conforming_strings = on;\n\n--\n-- Data for Name: Weird \"Name\"; Type: TABLE DATA; Schema: public; Owner: -\n--\n\n" +
		"COPY public.\"Weird \"\"Name\"\"\" (id, \"co\nl\") FROM stdin;\n" +
		"1\ttab\\there\\nnl \\\\ bs \\.\n" +
		"2\t\\N\n" +
		"COPY public.not_a_header (id) FROM stdin;\n" + // a row, not a header: we are inside a block
		"3\t" + long + "\n" +
		"\\.\n\n\n" +
		"COPY public.empty (id) FROM stdin;\n\\.\n\n\\unrestrict abc\n\n"
	var r recorded
	require.NoError(t, readCopyScript(strings.NewReader(script), &r))
	require.Equal(t, "LATIN1", r.enc)
	require.Len(t, r.blocks, 2)
	require.Equal(t, copyHeader{Schema: "public", Table: `Weird "Name"`, Columns: []string{"id", "co\nl"}}, r.blocks[0])
	require.Equal(t, []string{"1\ttab\\there\\nnl \\\\ bs \\.", "2\t\\N", "COPY public.not_a_header (id) FROM stdin;", "3\t" + long}, r.rows[0])
	require.Empty(t, r.rows[1])
	require.False(t, r.open)

	err := readCopyScript(strings.NewReader("SET x = 1;\nINSERT INTO public.t (id) VALUES (1);\n"), &recorded{})
	require.ErrorIs(t, err, errUnfiltered, "table data as INSERTs cannot be filtered")
	err = readCopyScript(strings.NewReader("COPY public.t (id) FROM stdin;\n1\n"), &recorded{})
	require.Error(t, err, "a script cut inside a block")
	err = readCopyScript(strings.NewReader("COPY public.t (id) FROM stdin;\n1"), &recorded{})
	require.Error(t, err, "a script cut inside a line")
}
