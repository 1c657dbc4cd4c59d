package recordrecovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/uscpis/pisbackup/internal/backup"
	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/storage"
)

// Step is one write of a plan: insert a missing row, or overwrite the changed columns of a row.
type Step struct {
	Action  string   `json:"action"` // "insert" or "update"
	Table   string   `json:"table"`
	Key     string   `json:"key"`
	Columns []string `json:"columns"` // written columns (update: only the changed ones)
	Row     Row      `json:"-"`       // the backup's version
	Live    Row      `json:"-"`       // the live version seen by the comparison (update)
	sql     string
}

// Plan is what a recovery writes, in order: missing rows parents first, then (with overwrite) changed rows,
// then the sequences that are behind an inserted id.
type Plan struct {
	Steps     []Step   `json:"steps"`
	Sequences []string `json:"sequence_statements,omitempty"`
	Skipped   int      `json:"changed_rows_skipped"` // changed rows left alone because overwrite was not asked for
	schema    *Schema
}

// NewPlan turns a comparison into writes against the live database's columns (generated columns are never
// written; identity columns are written with OVERRIDING SYSTEM VALUE so a row gets its old id back). Changed
// rows are updated only with overwrite.
func NewPlan(d *Diff, overwrite bool) (*Plan, error) {
	if d.liveSchema == nil {
		return nil, errors.New("recovery plan: the comparison did not finish")
	}
	p := &Plan{schema: d.liveSchema}
	refused := map[string]bool{}
	for _, td := range d.Tables {
		if td.Refused != "" {
			refused[td.Table] = true
		}
	}
	maxID := map[string]*big.Int{} // sequence -> highest inserted value
	for _, pass := range []string{Missing, Changed} {
		for _, rd := range d.Rows {
			if rd.Status != pass || refused[rd.Table] {
				continue
			}
			if pass == Changed && !overwrite {
				p.Skipped++
				continue
			}
			lt := d.liveSchema.Tables[rd.Table]
			s := Step{Table: rd.Table, Key: rd.Key, Row: rd.Backup, Live: rd.Live}
			if pass == Missing {
				s.Action = "insert"
				for _, c := range lt.Columns {
					if _, ok := rd.Backup[c.Name]; ok && !c.Generated {
						s.Columns = append(s.Columns, c.Name)
					}
				}
				s.sql = fmt.Sprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM jsonb_populate_record(NULL::%s, %s::jsonb);",
					lt.ident(), backup.ColumnList(s.Columns), backup.ColumnList(s.Columns), lt.ident(), literal(rowJSON(rd.Backup)))
				for _, c := range lt.Columns {
					if c.Sequence == "" {
						continue
					}
					if v, ok := new(big.Int).SetString(string(rd.Backup[c.Name]), 10); ok && (maxID[c.Sequence] == nil || v.Cmp(maxID[c.Sequence]) > 0) {
						maxID[c.Sequence] = v
					}
				}
			} else {
				s.Action = "update"
				for _, ch := range rd.Changes {
					c, ok := d.liveSchema.column(rd.Table, ch.Column)
					if _, inBackup := rd.Backup[ch.Column]; ok && inBackup && !c.Generated {
						s.Columns = append(s.Columns, ch.Column)
					}
				}
				if len(s.Columns) == 0 {
					continue
				}
				s.sql = fmt.Sprintf("UPDATE %s SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, %s::jsonb)) WHERE %s;",
					lt.ident(), backup.ColumnList(s.Columns), backup.ColumnList(s.Columns), lt.ident(), literal(rowJSON(rd.Backup)), keyMatch(lt, rd.Backup))
			}
			p.Steps = append(p.Steps, s)
		}
	}
	seqs := make([]string, 0, len(maxID))
	for s := range maxID {
		seqs = append(seqs, s)
	}
	sortStrings(seqs)
	for _, s := range seqs {
		// Only when the sequence would hand out the highest restored id again; a sequence ahead is left alone.
		// Its own last_value and is_called say so: pg_sequence_last_value is NULL for a sequence restarted ahead
		// (ALTER SEQUENCE … RESTART, setval(…, false)), which must not read as 0 and be set back. s is
		// pg_get_serial_sequence's output, already quoted by the server.
		p.Sequences = append(p.Sequences, fmt.Sprintf("SELECT setval(%s::regclass, %s) FROM %s q WHERE %s >= q.last_value + CASE WHEN q.is_called THEN 1 ELSE 0 END;",
			literal(s), maxID[s], s, maxID[s]))
	}
	return p, nil
}

// keyMatch is the WHERE condition selecting r's row of t by primary key, values cast by the server.
func keyMatch(t *Table, r Row) string {
	pk := map[string]json.RawMessage{}
	for _, c := range t.PK {
		pk[c] = r[c]
	}
	b, _ := json.Marshal(pk)
	return fmt.Sprintf("(%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, %s::jsonb))", backup.ColumnList(t.PK), backup.ColumnList(t.PK), t.ident(), literal(string(b)))
}

func rowJSON(r Row) string {
	b, _ := json.Marshal(r) // map keys sorted: the same row always renders the same
	return string(b)
}

// rowHash identifies a row's exact content without revealing it.
func rowHash(r Row) string {
	h := sha256.Sum256([]byte(rowJSON(r)))
	return hex.EncodeToString(h[:])
}

// SQL is the plan as one reviewable transaction. header lines become comments.
func (p *Plan) SQL(header ...string) string {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("-- " + commentText(h) + "\n")
	}
	fmt.Fprintf(&b, "-- %d row(s) to write; %d changed row(s) left alone (pass --overwrite to update them)\n", len(p.Steps), p.Skipped)
	b.WriteString("BEGIN;\nSET LOCAL standard_conforming_strings = on;\nSET CONSTRAINTS ALL DEFERRED;\n")
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "-- %s\n%s\n", commentText(s.Action+" "+s.Table+" "+s.Key), s.sql)
	}
	for _, s := range p.Sequences {
		b.WriteString(s + "\n")
	}
	b.WriteString("COMMIT;\n")
	return b.String()
}

// commentText makes s safe inside a "-- " comment line: the server's and psql's lexers end such a comment at
// a CR as well as an LF, so a table or schema name holding either (any user with CREATE can name one so) would
// otherwise end the comment and run the rest as SQL when an admin runs the script. Control characters are
// written as \xNN.
func commentText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Touched is one row an applied recovery wrote: Before is its version before (nil for an inserted row),
// AfterSHA256 the hash of the version the recovery left, which undo checks before reversing anything.
type Touched struct {
	Action      string `json:"action"`
	Table       string `json:"table"`
	Key         string `json:"key"`
	Before      Row    `json:"before,omitempty"`
	AfterSHA256 string `json:"after_sha256,omitempty"`
}

// Undo is the content of a recovery's undo artifact: every row it will touch, as it was before.
type Undo struct {
	RecoveryID int64     `json:"recovery_id"`
	BackupID   int64     `json:"backup_id"`
	Rows       []Touched `json:"rows"`
	// Files are the media files the recovery set out to restore (MediaPlan.Restoring); undo removes those the
	// catalog records as placed (by PathDigest), each only while it still has its SHA-256.
	Files []RestoredFile `json:"files,omitempty"`
}

// ErrLiveMoved is returned when the clinic database changed, between the comparison and the write, in a row
// the recovery would touch.
var ErrLiveMoved = errors.New("the clinic database changed since the comparison")

// SameDatabase refuses a write connection that is not the clinic database the comparison read: both are
// asked by the server which database (and cluster) they are.
func SameDatabase(ctx context.Context, write, live *dbconn.Settings) error {
	w, err := backup.Identify(ctx, write)
	if err != nil {
		return fmt.Errorf("SOURCE_WRITE_DATABASE_URL: %w", err)
	}
	l, err := backup.Identify(ctx, live)
	if err != nil {
		return fmt.Errorf("SOURCE_DATABASE_URL: %w", err)
	}
	if !backup.SameServer(w.Server, l.Server) || w.Database != l.Database || w.OID != l.OID {
		return fmt.Errorf("SOURCE_WRITE_DATABASE_URL reaches database %q, not the clinic database %q of SOURCE_DATABASE_URL (the servers say so); nothing was written", w.Database, l.Database)
	}
	return nil
}

// Apply runs the plan in one transaction through write. Every row it will touch is first locked and
// checked against the comparison (ErrLiveMoved otherwise), then save receives the before versions (the
// caller stores them as an encrypted undo artifact, and may do its own first writes, such as placing media
// files, which it takes back if Apply then fails) and only if save succeeded are the rows written. A
// constraint violation (checked at COMMIT for deferred foreign keys) rolls everything back. It returns the
// touched rows with the hashes of their new versions.
func (p *Plan) Apply(ctx context.Context, write *dbconn.Settings, save func(Undo) error) ([]Touched, error) {
	if len(p.Steps) == 0 {
		return nil, errors.New("nothing to write: no missing rows, and no changed rows to overwrite")
	}
	conn, err := write.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect with SOURCE_WRITE_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET CONSTRAINTS ALL DEFERRED"); err != nil {
		return nil, err
	}
	touched := make([]Touched, len(p.Steps))
	for i, s := range p.Steps {
		cur, err := p.current(ctx, tx, s.Table, s.Row, true)
		if err != nil {
			return nil, err
		}
		touched[i] = Touched{Action: s.Action, Table: s.Table, Key: s.Key, Before: cur}
		switch {
		case s.Action == "insert" && cur != nil:
			return nil, fmt.Errorf("%w: %s %s exists now; compare again", ErrLiveMoved, s.Table, s.Key)
		case s.Action == "update" && (cur == nil || rowJSON(cur) != rowJSON(s.Live)):
			return nil, fmt.Errorf("%w: %s %s was changed or deleted; compare again", ErrLiveMoved, s.Table, s.Key)
		}
	}
	if err := save(Undo{Rows: touched}); err != nil {
		return nil, fmt.Errorf("%w (nothing was written)", err)
	}
	for _, s := range p.Steps {
		if _, err := tx.Exec(ctx, s.sql); err != nil {
			return nil, fmt.Errorf("%s %s %s: %w (nothing was written)", s.Action, s.Table, s.Key, err)
		}
	}
	for _, s := range p.Sequences {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("advance a sequence: %w (nothing was written)", err)
		}
	}
	for i, s := range p.Steps {
		after, err := p.current(ctx, tx, s.Table, s.Row, false)
		if err != nil {
			return nil, err
		}
		touched[i].AfterSHA256 = rowHash(after)
	}
	if err := commit(ctx, tx); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	for i := range touched {
		touched[i].Before = nil // the values live only in the encrypted artifact
	}
	return touched, nil
}

// current reads table's row with key's primary key (nil when absent), optionally locking it.
func (p *Plan) current(ctx context.Context, q querier, table string, key Row, lock bool) (Row, error) {
	t := p.schema.Tables[table]
	rows, err := fetch(ctx, q, t, keyMatch(t, key), nil, 0, lock)
	if err != nil {
		return nil, fmt.Errorf("read %s in the clinic database: %w", table, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0], nil
}

// referencedSince refuses to delete row (of table, key) when a row of another table, or of the same one, that
// is not among the recovery's inserted rows points at it by a foreign key: the clinic wrote it after the
// recovery, and the delete would take it (or its reference) away too, or fail at COMMIT.
func (p *Plan) referencedSince(ctx context.Context, q querier, table, key string, row Row, inserted map[string]bool) error {
	parent := p.schema.Tables[table]
	for _, fk := range p.schema.FKs {
		child := p.schema.Tables[fk.Child]
		if fk.Parent != table || child == nil {
			continue
		}
		one := map[string]json.RawMessage{}
		for _, c := range fk.RefCols {
			one[c] = row[c]
		}
		b, _ := json.Marshal(one)
		cols := make([]string, len(fk.Cols))
		for i, c := range fk.Cols {
			cols[i] = "t." + pgx.Identifier{c}.Sanitize()
		}
		cond := fmt.Sprintf("(%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, %s::jsonb))",
			strings.Join(cols, ", "), backup.ColumnList(fk.RefCols), parent.ident(), literal(string(b)))
		rows, err := fetch(ctx, q, child, cond, nil, 0, true)
		if err != nil {
			return fmt.Errorf("read rows of %s pointing at %s %s: %w (nothing was undone)", fk.Child, table, key, err)
		}
		for _, c := range rows {
			if len(child.PK) > 0 && inserted[fk.Child+" "+c.keyText(child.PK)] {
				continue
			}
			what := "a row"
			if len(child.PK) > 0 {
				what = c.keyText(child.PK)
			}
			return fmt.Errorf("%s %s, which the recovery inserted, is referenced by %s %s written since (foreign key %s); "+
				"deleting it would take that row with it; nothing was undone", table, key, fk.Child, what, fk.Name)
		}
	}
	return nil
}

// Reverse undoes an applied recovery in one transaction through write: rows it inserted are deleted, rows
// it updated get their saved version back, last write first. Every row must still be exactly as the
// recovery left it (after holds the hashes recorded when it was applied); otherwise nothing is changed.
func Reverse(ctx context.Context, write *dbconn.Settings, u Undo, after map[string]string) (int, error) {
	conn, err := write.Connect(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect with SOURCE_WRITE_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sch, err := readSchema(ctx, conn)
	if err != nil {
		return 0, err
	}
	p := &Plan{schema: sch}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET CONSTRAINTS ALL DEFERRED"); err != nil {
		return 0, err
	}
	// The rows it inserted, which the undo deletes: a row pointing at one of them that is not itself among them
	// was written by someone else since, and deleting would cascade into it (ON DELETE CASCADE / SET NULL /
	// SET DEFAULT) or fail at COMMIT (NO ACTION).
	inserted := map[string]bool{}
	for _, r := range u.Rows {
		if r.Action == "insert" {
			inserted[r.Table+" "+r.Key] = true
		}
	}
	n := 0
	for i := len(u.Rows) - 1; i >= 0; i-- {
		r := u.Rows[i]
		t := sch.Tables[r.Table]
		if t == nil || len(t.PK) == 0 {
			return 0, fmt.Errorf("table %s is gone or has no primary key now; nothing was undone", r.Table)
		}
		var keyVals []json.RawMessage
		if err := json.Unmarshal([]byte(r.Key), &keyVals); err != nil || len(keyVals) != len(t.PK) {
			return 0, fmt.Errorf("undo artifact: bad key %q for %s", r.Key, r.Table)
		}
		key := Row{}
		for j, c := range t.PK {
			key[c] = keyVals[j]
		}
		cur, err := p.current(ctx, tx, r.Table, key, true)
		if err != nil {
			return 0, err
		}
		if cur == nil || rowHash(cur) != after[r.Table+" "+r.Key] {
			return 0, fmt.Errorf("%s %s was changed after the recovery wrote it; nothing was undone (compare with a backup instead)", r.Table, r.Key)
		}
		var sql string
		if r.Action == "insert" {
			if err := p.referencedSince(ctx, tx, r.Table, r.Key, cur, inserted); err != nil {
				return 0, err
			}
			sql = "DELETE FROM " + t.ident() + " WHERE " + keyMatch(t, key)
		} else {
			var cols []string
			for _, c := range t.Columns {
				if _, ok := r.Before[c.Name]; ok && !c.Generated {
					cols = append(cols, c.Name)
				}
			}
			sql = fmt.Sprintf("UPDATE %s SET (%s) = (SELECT %s FROM jsonb_populate_record(NULL::%s, %s::jsonb)) WHERE %s",
				t.ident(), backup.ColumnList(cols), backup.ColumnList(cols), t.ident(), literal(rowJSON(r.Before)), keyMatch(t, key))
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return 0, fmt.Errorf("undo %s %s: %w (nothing was undone)", r.Table, r.Key, err)
		}
		n++
	}
	if err := commit(ctx, tx); err != nil {
		return 0, fmt.Errorf("commit the undo: %w", err)
	}
	return n, nil
}

// commit commits tx unless ctx already ended (then nothing is written), and never lets a cancellation land in
// the middle of COMMIT, where the server may commit while the client reports failure. Its error says whether
// anything can have been written: an error the server returned for the COMMIT (a deferred constraint, say)
// means nothing was; a lost connection leaves it unknown, and a dry run of the same rows shows which.
func commit(ctx context.Context, tx pgx.Tx) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w (stopped before committing: nothing was written)", context.Cause(ctx))
	}
	err := tx.Commit(context.WithoutCancel(ctx))
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pgErr):
		return fmt.Errorf("%w (the server refused the commit: nothing was written)", err)
	default:
		return fmt.Errorf("%w (the connection failed during COMMIT: the server may have committed; compare again with a dry run before retrying)", err)
	}
}

// SaveUndo seals u (zstd, then age to the backups' recipients) into st at key, like a backup artifact.
func SaveUndo(ctx context.Context, st storage.Store, recipients []age.Recipient, key string, u Undo) (sha string, size int64, err error) {
	w, err := st.Create(ctx, key)
	if err != nil {
		return "", 0, err
	}
	s, err := backup.NewSealer(w, recipients)
	if err == nil {
		err = json.NewEncoder(s).Encode(u)
	}
	if err == nil {
		err = s.Close()
	}
	if err == nil {
		err = w.Commit()
	}
	if err != nil {
		_ = w.Abort()
		return "", 0, err
	}
	return s.SHA256(), s.StoredBytes(), nil
}

// LoadUndo reads an undo artifact back.
func LoadUndo(ctx context.Context, a backup.Artifact) (Undo, error) {
	var u Undo
	r, err := a.Open(ctx)
	if err != nil {
		return u, err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err == nil {
		err = json.Unmarshal(b, &u)
	}
	return u, err
}
