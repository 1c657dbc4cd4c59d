package recordrecovery

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/uscpis/pisbackup/internal/backup"
)

// The data pass reads `pg_restore --data-only --file=-` with backup.ReadCopyScript (the script's format is
// described there) and decodes the fields it filters on with copyField and copyUnescape.

// copyHeader is backup.CopyHeader (one reader of pg_restore's COPY script for drills and recoveries).
type copyHeader = backup.CopyHeader

// readCopyScript is backup.ReadCopyScript, with INSERT-statement data reported as errUnfiltered.
func readCopyScript(r io.Reader, h backup.CopyScript) error {
	err := backup.ReadCopyScript(r, h)
	if errors.Is(err, backup.ErrInsertData) {
		return errUnfiltered
	}
	return err
}

// errUnfiltered says the script was not what the filtered data pass can read (table data that is not a COPY
// block, such as an archive made with pg_dump --inserts): the caller restores the tables whole instead.
var errUnfiltered = errors.New("the archive's table data cannot be filtered while streaming")

// copyField returns field i (0-based) of a COPY text row, still escaped; ok is false when the row has fewer
// fields.
func copyField(row []byte, i int) ([]byte, bool) {
	for ; i > 0; i-- {
		t := bytes.IndexByte(row, '\t')
		if t < 0 {
			return nil, false
		}
		row = row[t+1:]
	}
	if t := bytes.IndexByte(row, '\t'); t >= 0 {
		row = row[:t]
	}
	return row, true
}

// copyEscape writes a value as COPY's text format does (the inverse of the decoding COPY FROM applies).
func copyEscape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// copyUnescape decodes one field of COPY's text format; null is true for \N.
func copyUnescape(f []byte) (v string, null bool) {
	if string(f) == `\N` {
		return "", true
	}
	if bytes.IndexByte(f, '\\') < 0 {
		return string(f), false
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			b.WriteByte(c)
			continue
		}
		i++
		switch c = f[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case 'x':
			n, k := 0, 0
			for ; k < 2 && i+1 < len(f) && isHex(f[i+1]); k++ {
				i++
				n = n*16 + hexVal(f[i])
			}
			if k == 0 {
				b.WriteByte('x')
			} else {
				b.WriteByte(byte(n))
			}
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := int(c - '0')
			for k := 0; k < 2 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; k++ {
				i++
				n = n*8 + int(f[i]-'0')
			}
			b.WriteByte(byte(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}
