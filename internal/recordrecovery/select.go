package recordrecovery

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Key selects rows by column values: "id=1042" or, for a composite key, "clinic_id=3,id=7". Several Keys
// select the union of their rows.
type Key []KeyPart

// KeyPart is one column=value of a Key.
type KeyPart struct{ Column, Value string }

// ParseKey reads "col=value[,col=value…]". Values are compared after casting to the column's type.
func ParseKey(s string) (Key, error) {
	var k Key
	for _, part := range strings.Split(s, ",") {
		col, val, ok := strings.Cut(part, "=")
		col = strings.TrimSpace(col)
		if !ok || !identRE.MatchString(col) {
			return nil, fmt.Errorf("--key %q: write column=value (e.g. id=1042), several columns separated by commas", s)
		}
		k = append(k, KeyPart{Column: col, Value: strings.TrimSpace(val)})
	}
	return k, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// condRE is one condition of a --where filter: column, operator, value (a quoted string, a number, true or
// false), or column IS [NOT] NULL.
var condRE = regexp.MustCompile(`(?is)^\s*([A-Za-z_][A-Za-z0-9_]{0,62})\s*(?:(=|<>|!=|<=|>=|<|>|not\s+ilike|not\s+like|ilike|like)\s*('(?:[^']|'')*'|-?[0-9]+(?:\.[0-9]+)?|true|false)|(is\s+not\s+null|is\s+null))\s*$`)

// where is a parsed filter: SQL text with $n placeholders over columns of one table, and its arguments.
type where struct {
	sql  string
	args []any
}

// buildSelection turns keys and a simple filter into a condition on table t of s. The filter is deliberately
// not SQL: conditions "column op value" joined by AND (op one of = <> != < <= > >= LIKE ILIKE NOT LIKE NOT
// ILIKE, value a 'string', number, true or false) or "column IS [NOT] NULL"; columns must exist in the
// backup's table. Values travel as parameters, so nothing typed here runs as SQL on the clinic database.
func buildSelection(s *Schema, t string, keys []Key, filter string) (where, error) {
	var w where
	var ors []string
	for _, k := range keys {
		var ands []string
		for _, p := range k {
			c, ok := s.column(t, p.Column)
			if !ok {
				return w, fmt.Errorf("--key: table %s has no column %q", t, p.Column)
			}
			w.args = append(w.args, p.Value)
			ands = append(ands, fmt.Sprintf("t.%s = CAST($%d::text AS %s)", pgx.Identifier{p.Column}.Sanitize(), len(w.args), c.Type))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	var conds []string
	if len(ors) > 0 {
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if strings.TrimSpace(filter) != "" {
		for _, part := range splitAnd(filter) {
			m := condRE.FindStringSubmatch(part)
			if m == nil {
				return w, fmt.Errorf("--where: cannot read %q: write column op value joined by AND (op = <> < <= > >= LIKE ILIKE, value 'text', a number, true or false) or column IS [NOT] NULL", strings.TrimSpace(part))
			}
			c, ok := s.column(t, m[1])
			if !ok {
				return w, fmt.Errorf("--where: table %s has no column %q", t, m[1])
			}
			col := "t." + pgx.Identifier{m[1]}.Sanitize()
			if m[4] != "" {
				conds = append(conds, col+" "+strings.ToUpper(strings.Join(strings.Fields(m[4]), " ")))
				continue
			}
			op := strings.ToUpper(strings.Join(strings.Fields(m[2]), " "))
			val := m[3]
			if strings.HasPrefix(val, "'") {
				val = strings.ReplaceAll(val[1:len(val)-1], "''", "'")
			}
			w.args = append(w.args, val)
			typ := c.Type
			if strings.Contains(op, "LIKE") {
				col, typ = col+"::text", "text"
			}
			conds = append(conds, fmt.Sprintf("%s %s CAST($%d::text AS %s)", col, op, len(w.args), typ))
		}
	}
	if len(conds) == 0 {
		return w, fmt.Errorf("choose rows with --key column=value or --where: recovering a whole table is a restore, not a record recovery")
	}
	w.sql = strings.Join(conds, " AND ")
	return w, nil
}

// splitAnd splits a filter at AND outside single quotes.
func splitAnd(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inQuote = !inQuote
		case !inQuote && i+5 <= len(s) && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') &&
			strings.EqualFold(s[i:i+3], "and") && i+3 < len(s) && (s[i+3] == ' ' || s[i+3] == '\t'):
			out = append(out, s[start:i])
			start = i + 3
		}
	}
	return append(out, s[start:])
}

// Row is one row as to_jsonb() renders it: column name to JSON value.
type Row map[string]json.RawMessage

// querier is a connection or transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// fetch returns to_jsonb of table's rows matching cond (over alias t), at most limit+1 of them.
func fetch(ctx context.Context, q querier, table *Table, cond string, args []any, limit int, lock bool) ([]Row, error) {
	sql := "SELECT to_jsonb(t)::text FROM " + table.ident() + " t WHERE " + cond
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit+1)
	}
	if lock {
		sql += " FOR UPDATE"
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, err
		}
		var r Row
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// inValues is the condition "(cols) IN (the tuples vals)" over alias t, the values being JSON as to_jsonb
// renders them and cast to the columns' types; its one argument is the JSON array of tuples.
func inValues(s *Schema, table string, cols []string, vals [][]json.RawMessage) (string, []any, error) {
	var casts []string
	for i, c := range cols {
		col, ok := s.column(table, c)
		if !ok {
			return "", nil, fmt.Errorf("table %s has no column %q", table, c)
		}
		casts = append(casts, fmt.Sprintf("CAST(e->>%d AS %s)", i, col.Type))
	}
	arr, err := json.Marshal(vals)
	if err != nil {
		return "", nil, err
	}
	ref := make([]string, len(cols))
	for i, c := range cols {
		ref[i] = "t." + pgx.Identifier{c}.Sanitize()
	}
	if len(cols) == 1 {
		// = ANY(ARRAY(…)): the server plans an index scan for the handful of values; "IN (SELECT … FROM
		// jsonb_array_elements)" is estimated at 100 values and, under fetch's LIMIT, planned as a scan of the
		// whole table (a quarter of a second per child table of the 1 GB bench clinic).
		return fmt.Sprintf("%s = ANY (ARRAY(SELECT %s FROM jsonb_array_elements($1::jsonb) e))", ref[0], casts[0]), []any{string(arr)}, nil
	}
	return fmt.Sprintf("(%s) IN (SELECT %s FROM jsonb_array_elements($1::jsonb) e)", strings.Join(ref, ", "), strings.Join(casts, ", ")),
		[]any{string(arr)}, nil
}

// values picks cols of r; ok is false when any is null (a null foreign key references nothing).
func (r Row) values(cols []string) ([]json.RawMessage, bool) {
	out := make([]json.RawMessage, len(cols))
	for i, c := range cols {
		v, ok := r[c]
		if !ok || string(v) == "null" {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// keyText is the row's primary key as a JSON array, the identity rows are matched by.
func (r Row) keyText(pk []string) string {
	v, _ := r.values(pk)
	b, _ := json.Marshal(v)
	return string(b)
}
