// Package spreadsheet makes text safe to put in a CSV file people open in a spreadsheet.
package spreadsheet

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cell stops a spreadsheet from executing s as a formula (CSV or formula injection; the rule is OWASP's "CSV
// Injection" page): a cell whose first visible character is =, +, -, @, a tab, a carriage return or a line
// feed, or the full-width =, +, - and @ some spreadsheets also read as formulas, gets a leading apostrophe,
// which spreadsheets show as text. "First visible" skips every leading Unicode space (U+00A0 NO-BREAK SPACE,
// U+3000 IDEOGRAPHIC SPACE, …), control character and invisible format character (U+200B ZERO WIDTH SPACE,
// U+FEFF BYTE ORDER MARK, U+202E RIGHT-TO-LEFT OVERRIDE, …), since spreadsheets may ignore them too. The
// apostrophe changes the text a program reading the CSV sees, so machine-readable exports stay JSON.
func Cell(s string) string {
	t := strings.TrimLeftFunc(s, func(r rune) bool {
		return (unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError) &&
			r != '\t' && r != '\r' && r != '\n'
	})
	if t == "" {
		return s
	}
	switch r, _ := utf8.DecodeRuneInString(t); r {
	case '=', '+', '-', '@', '\t', '\r', '\n', '＝', '＋', '－', '＠':
		return "'" + s
	}
	return s
}

// Row applies Cell to every column of a CSV record, in place, and returns it.
func Row(rec []string) []string {
	for i := range rec {
		rec[i] = Cell(rec[i])
	}
	return rec
}
