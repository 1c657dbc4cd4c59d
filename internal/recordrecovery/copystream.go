package recordrecovery

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The data pass reads `pg_restore --data-only --file=-`: a SQL script whose table data are COPY blocks,
//
//	COPY schema.table (col, "Odd ""col""") FROM stdin;
//	row line: fields separated by tabs, \N for NULL, backslash escapes (\t \n \\ …)
//	\.
//
// A raw tab always separates fields and a raw newline always ends a row (both are escaped inside values), and a
// row can never be the line "\." (a backslash in a value is written "\\"), so rows are split without decoding
// them. Quoted identifiers are written as pg_dump's fmtId writes them: double quotes doubled, and any other
// character (a newline too) as is, so a header may span lines.

// errUnfiltered says the script was not what the filtered data pass can read (table data that is not a COPY
// block, such as an archive made with pg_dump --inserts): the caller restores the tables whole instead.
var errUnfiltered = errors.New("the archive's table data cannot be filtered while streaming")

// copyHeader is a parsed "COPY schema.table (cols) FROM stdin;".
type copyHeader struct {
	Schema, Table string
	Columns       []string
}

// Name is "schema.table" as readSchema names tables.
func (h copyHeader) Name() string { return h.Schema + "." + h.Table }

// Statement is the COPY … FROM STDIN that loads the block's rows unchanged.
func (h copyHeader) Statement() string {
	s := "COPY " + pgx.Identifier{h.Schema, h.Table}.Sanitize()
	if len(h.Columns) > 0 {
		s += " (" + quoteCols(h.Columns) + ")"
	}
	return s + " FROM STDIN"
}

// errIncomplete says a header ends inside a quoted identifier: it continues on the next line.
var errIncomplete = errors.New("incomplete COPY header")

// parseCopyHeader reads s, a COPY statement as pg_dump prints it (lines joined with "\n", without the final
// newline).
func parseCopyHeader(s string) (copyHeader, error) {
	var h copyHeader
	if !strings.HasPrefix(s, "COPY ") {
		return h, fmt.Errorf("not a COPY statement: %q", s)
	}
	i := len("COPY ")
	var err error
	if h.Schema, i, err = readIdent(s, i); err != nil {
		return h, err
	}
	if i >= len(s) || s[i] != '.' {
		return h, fmt.Errorf("COPY of an unqualified table: %q", s)
	}
	if h.Table, i, err = readIdent(s, i+1); err != nil {
		return h, err
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '(' {
		i++
		for {
			var c string
			if c, i, err = readIdent(s, i); err != nil {
				return h, err
			}
			h.Columns = append(h.Columns, c)
			if strings.HasPrefix(s[i:], ", ") {
				i += 2
				continue
			}
			if i < len(s) && s[i] == ')' {
				i++
				break
			}
			return h, fmt.Errorf("cannot read the column list of %q", s)
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if s[i:] != "FROM stdin;" {
		return h, fmt.Errorf("cannot read COPY statement %q", s)
	}
	return h, nil
}

// readIdent reads one identifier at s[i:]: "quoted" (with "" for a quote) or plain (up to '.', ' ', '(', ',' or
// ')'), and returns it with the index after it.
func readIdent(s string, i int) (string, int, error) {
	if i >= len(s) {
		return "", i, fmt.Errorf("identifier expected at the end of %q", s)
	}
	if s[i] == '"' {
		var b strings.Builder
		for j := i + 1; ; j++ {
			if j >= len(s) {
				return "", i, errIncomplete
			}
			if s[j] == '"' {
				if j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				if j+1 == len(s) {
					return "", i, errIncomplete // the closing quote or the first of a doubled one
				}
				return b.String(), j + 1, nil
			}
			b.WriteByte(s[j])
		}
	}
	j := i
	for j < len(s) && !strings.ContainsRune(".( ,)", rune(s[j])) {
		j++
	}
	if j == i {
		return "", i, fmt.Errorf("identifier expected in %q", s)
	}
	return s[i:j], j, nil
}

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

// copyScript is what a data-only script handler is told: the script's client_encoding (before the first
// block), each block's header, its rows (without the newline; the slice is only valid during the call) and its
// end.
type copyScript interface {
	encoding(name string)
	begin(h copyHeader) error
	row(line []byte) error
	end() error
}

// maxHeader bounds a COPY statement (identifiers are at most 63 bytes, a table at most 1600 columns).
const maxHeader = 1 << 20

// readCopyScript reads a `pg_restore --data-only --file=-` script from r and tells h about it. Table data that
// is not a COPY block (INSERT statements) fails with errUnfiltered.
func readCopyScript(r io.Reader, h copyScript) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	readLine := func() ([]byte, error) {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return nil, io.ErrUnexpectedEOF // pg_restore ends every line
			}
			return nil, err
		}
		return line[:len(line)-1], nil
	}
	inCopy := false
	for {
		line, err := readLine()
		if err == io.EOF {
			if inCopy {
				return fmt.Errorf("the script ends inside a COPY block: %w", io.ErrUnexpectedEOF)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if inCopy {
			if len(line) == 2 && line[0] == '\\' && line[1] == '.' {
				inCopy = false
				if err := h.end(); err != nil {
					return err
				}
				continue
			}
			if err := h.row(line); err != nil {
				return err
			}
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("COPY ")):
			stmt := string(line)
			hd, err := parseCopyHeader(stmt)
			for errors.Is(err, errIncomplete) && len(stmt) < maxHeader {
				more, rerr := readLine()
				if rerr != nil {
					return fmt.Errorf("read a COPY statement: %w", rerr)
				}
				stmt += "\n" + string(more)
				hd, err = parseCopyHeader(stmt)
			}
			if err != nil {
				return err
			}
			if err := h.begin(hd); err != nil {
				return err
			}
			inCopy = true
		case bytes.HasPrefix(line, []byte("SET client_encoding = '")):
			enc := strings.TrimSuffix(strings.TrimPrefix(string(line), "SET client_encoding = '"), "';")
			h.encoding(enc)
		case bytes.HasPrefix(line, []byte("INSERT INTO ")):
			return errUnfiltered
		}
	}
}
