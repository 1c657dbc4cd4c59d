package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The script `pg_restore --data-only --file=-` prints holds each table's data as a COPY block:
//
//	COPY schema.table (col, "Odd ""col""") FROM stdin;
//	row line: fields separated by tabs, \N for NULL, backslash escapes (\t \n \\ …)
//	\.
//
// A raw tab always separates fields and a raw newline always ends a row (both are escaped inside values), and a
// row can never be the line "\." (a backslash in a value is written "\\"), so rows are split without decoding
// them. Quoted identifiers are written as pg_dump's fmtId writes them: double quotes doubled, and any other
// character (a newline too) as is, so a header may span lines. Drills digest the blocks (ReadArchiveContent);
// record recovery filters them (internal/recordrecovery).

// ErrInsertData says the archive's table data is INSERT statements (pg_dump --inserts), not COPY blocks.
var ErrInsertData = errors.New("the archive's table data is INSERT statements, not COPY blocks")

// CopyHeader is a parsed "COPY schema.table (cols) FROM stdin;".
type CopyHeader struct {
	Schema, Table string
	Columns       []string
}

// Name is "schema.table", unquoted.
func (h CopyHeader) Name() string { return h.Schema + "." + h.Table }

// Statement is the COPY … FROM STDIN that loads the block's rows unchanged.
func (h CopyHeader) Statement() string {
	s := "COPY " + pgx.Identifier{h.Schema, h.Table}.Sanitize()
	if len(h.Columns) > 0 {
		s += " (" + ColumnList(h.Columns) + ")"
	}
	return s + " FROM STDIN"
}

// ColumnList is cols as quoted SQL identifiers, comma separated ("id", "Odd ""col""").
func ColumnList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// ErrIncompleteCopyHeader says a header ends inside a quoted identifier: it continues on the next line.
var ErrIncompleteCopyHeader = errors.New("incomplete COPY header")

// ParseCopyHeader reads s, a COPY statement as pg_dump prints it (lines joined with "\n", without the final
// newline).
func ParseCopyHeader(s string) (CopyHeader, error) {
	var h CopyHeader
	if !strings.HasPrefix(s, "COPY ") {
		return h, fmt.Errorf("not a COPY statement: %q", s)
	}
	i := len("COPY ")
	var err error
	if h.Schema, i, err = readCopyIdent(s, i); err != nil {
		return h, err
	}
	if i >= len(s) || s[i] != '.' {
		return h, fmt.Errorf("COPY of an unqualified table: %q", s)
	}
	if h.Table, i, err = readCopyIdent(s, i+1); err != nil {
		return h, err
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '(' {
		i++
		for {
			var c string
			if c, i, err = readCopyIdent(s, i); err != nil {
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

// readCopyIdent reads one identifier at s[i:]: "quoted" (with "" for a quote) or plain (up to '.', ' ', '(', ',' or
// ')'), and returns it with the index after it.
func readCopyIdent(s string, i int) (string, int, error) {
	if i >= len(s) {
		return "", i, fmt.Errorf("identifier expected at the end of %q", s)
	}
	if s[i] == '"' {
		var b strings.Builder
		for j := i + 1; ; j++ {
			if j >= len(s) {
				return "", i, ErrIncompleteCopyHeader
			}
			if s[j] == '"' {
				if j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				if j+1 == len(s) {
					return "", i, ErrIncompleteCopyHeader // the closing quote or the first of a doubled one
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

// CopyScript is what a data-only script handler is told: the script's client_encoding (before the first
// block), each block's header, its rows (without the newline; the slice is only valid during the call) and its
// end.
type CopyScript interface {
	Encoding(name string)
	Begin(h CopyHeader) error
	Row(line []byte) error
	End() error
}

// maxHeader bounds a COPY statement (identifiers are at most 63 bytes, a table at most 1600 columns).
const maxCopyHeader = 1 << 20

// LineReader reads newline-ended lines of any length (a COPY row holding a 200 MB value is one line), through a
// 1 MiB buffer and, for longer lines, one growing slice it reuses.
type LineReader struct {
	br   *bufio.Reader
	long []byte
}

// NewLineReader reads lines from r.
func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 1<<20)}
}

// Next returns the next line without its newline, valid until the next call; io.EOF after the last, and
// io.ErrUnexpectedEOF for a last line without its newline (pg_restore, and pisbackup's spool files, end every
// line).
func (l *LineReader) Next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		l.long = append(l.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return line[:len(line)-1], nil
}

// ReadCopyScript reads a `pg_restore --data-only --file=-` script from r and tells h about it. Table data that
// is not a COPY block (INSERT statements, pg_dump --inserts) fails with ErrInsertData.
func ReadCopyScript(r io.Reader, h CopyScript) error {
	lines := NewLineReader(r)
	readLine := lines.Next
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
				if err := h.End(); err != nil {
					return err
				}
				continue
			}
			if err := h.Row(line); err != nil {
				return err
			}
			continue
		}
		switch {
		case bytes.HasPrefix(line, []byte("COPY ")):
			stmt := string(line)
			hd, err := ParseCopyHeader(stmt)
			for errors.Is(err, ErrIncompleteCopyHeader) && len(stmt) < maxCopyHeader {
				more, rerr := readLine()
				if rerr != nil {
					return fmt.Errorf("read a COPY statement: %w", rerr)
				}
				stmt += "\n" + string(more)
				hd, err = ParseCopyHeader(stmt)
			}
			if err != nil {
				return err
			}
			if err := h.Begin(hd); err != nil {
				return err
			}
			inCopy = true
		case bytes.HasPrefix(line, []byte("SET client_encoding = '")):
			enc := strings.TrimSuffix(strings.TrimPrefix(string(line), "SET client_encoding = '"), "';")
			h.Encoding(enc)
		case bytes.HasPrefix(line, []byte("INSERT INTO ")):
			return ErrInsertData
		}
	}
}
