package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// DrillOptions describe one restore drill.
type DrillOptions struct {
	Artifact  Artifact
	PGRestore string
	// Guard checks the restore role and creates, marks and drops the scratch database (on the server
	// Guard.Admin connects to); it names it
	// pisbackup_drill_<installation>_<ID> (see ScratchName).
	Guard *Guard
	// ID is the verification id in the scratch database's name.
	ID int64
	// Expected are the manifest's per-table counts and content digests.
	Expected []TableCount
	// Sequences are the manifest's sequence values (nil: not compared).
	Sequences []SequenceValue
	// Inventory is the manifest's schema objects, materialized view row counts and large objects (nil: not
	// recorded in this backup, not compared, and said so in the result's warnings).
	Inventory *ObjectInventory
	// Roles and Tablespaces are the manifest's referenced roles and tablespaces, checked against the target.
	Roles, Tablespaces []string
	// Properties are the source database's (manifest); the scratch database is created with them.
	Properties *DatabaseProperties
	// DumpSettings are the manifest's (nil: the rows' content is not compared with the archive's, and the
	// result says so).
	DumpSettings map[string]string
	// AfterRestore, when set, runs between restore and comparison with the scratch database's settings. Tests
	// use it to tamper with the restored data and prove the comparison notices.
	AfterRestore func(ctx context.Context, scratch *dbconn.Settings) error
	// Progress, when set, is told the plain bytes restored so far; the caller throttles writes.
	Progress func(done int64)
}

// TableCheck is one table of a drill's comparison.
type TableCheck struct {
	Table    string `json:"table"`
	Expected int64  `json:"expected"` // -1: not in the manifest
	Actual   int64  `json:"actual"`   // -1: not in the restored database
	// Content is "same" or "differs" when the manifest had the table's content digest, else "".
	Content string `json:"content,omitempty"`
	Match   bool   `json:"match"`
}

// SequenceCheck is one sequence of a drill's comparison.
type SequenceCheck struct {
	Sequence string         `json:"sequence"`
	Expected SequenceValue  `json:"expected"`
	Actual   *SequenceValue `json:"actual"` // nil: not in the restored database
	Match    bool           `json:"match"`
}

// DrillResult is what a drill measured.
type DrillResult struct {
	Scratch    string          `json:"scratch_database"`
	RTO        time.Duration   `json:"-"`
	RTOMillis  int64           `json:"rto_ms"`
	PlainBytes int64           `json:"plain_bytes"`
	Tables     []TableCheck    `json:"tables"`
	Sequences  []SequenceCheck `json:"sequences,omitempty"`
	// Objects compares the schema objects, materialized views and large objects (nil: not recorded).
	Objects *ObjectsCheck `json:"objects,omitempty"`
	// Mismatches counts the tables, sequences and Objects differences that fail.
	Mismatches int `json:"mismatches"`
	// Warnings name what the target cannot carry: roles it lacks, tablespaces mapped to its default.
	Warnings []string `json:"warnings,omitempty"`
	// Problems are the errors pg_restore continued past; any that lost data fails the drill.
	Problems RestoreProblems `json:"restore_problems"`
	// NoExpected is set when the manifest had no counts to compare (an uploaded plain .dump).
	NoExpected bool `json:"no_expected_counts,omitempty"`
}

// Drill restores the artifact into a fresh scratch database, measures the restore's wall time (the RTO),
// counts every table exactly and compares with the manifest. It first asks the server whether the restore
// role is fit to run the dump's SQL (Guard.CheckRole) and refuses otherwise. The scratch database belongs to
// this installation (its name carries the installation id, the catalog records it) and is dropped afterwards
// whatever happened, cancellation included. The result is returned with an error when tables differ.
func Drill(ctx context.Context, o DrillOptions) (*DrillResult, error) {
	res := &DrillResult{NoExpected: len(o.Expected) == 0}
	if o.Guard == nil {
		return res, errors.New("drill: no guard (restore role and scratch database checks) configured")
	}
	if _, err := o.Guard.CheckRole(ctx); err != nil {
		return res, err
	}
	inst, err := o.Guard.Installation(ctx)
	if err != nil {
		return res, err
	}
	name := ScratchName(inst, o.ID)
	res.Scratch = name
	scratch := o.Guard.Admin.WithDatabase(name)
	// A scratch database of this name left by a crashed worker of this installation is stale by definition;
	// DropOwned removes it only if this catalog recorded creating it.
	if err := o.Guard.DropOwned(ctx, name, "drill"); err != nil {
		return res, err
	}
	created, err := o.Guard.CreateOwnedAs(ctx, name, "drill", o.Properties)
	res.Warnings = append(res.Warnings, created...)
	if err != nil {
		return res, err
	}
	defer func() { _ = o.Guard.DropOwned(ctx, name, "drill") }()

	start := time.Now()
	var content *ArchiveContent
	if o.DumpSettings != nil {
		res.PlainBytes, res.Problems, content, err = RestoreAndDigest(ctx, o.Artifact, o.PGRestore, scratch, o.Progress)
	} else {
		res.PlainBytes, res.Problems, err = RestoreInto(ctx, o.Artifact, o.PGRestore, scratch, o.Progress)
	}
	res.RTO = time.Since(start)
	res.RTOMillis = res.RTO.Milliseconds()
	if err != nil {
		return res, err
	}
	if res.Problems.DataLost > 0 {
		return res, fmt.Errorf("%s; first data loss: %s", res.Problems.Summary(), firstDataLoss(res.Problems))
	}
	if o.AfterRestore != nil {
		if err := o.AfterRestore(ctx, scratch); err != nil {
			return res, fmt.Errorf("after-restore hook: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	// The comparison's sessions start with the timeouts the scratch database inherits from the source off.
	reader := scratch.WithParams(NoTimeouts)
	conn, err := reader.Connect(ctx)
	if err != nil {
		return res, fmt.Errorf("connect to scratch database: %w", err)
	}
	err = CompareRestored(ctx, conn, Expected{Tables: o.Expected, Sequences: o.Sequences, Inventory: o.Inventory,
		Content: content, DumpSettings: o.DumpSettings, Connect: reader.Connect}, res)
	if err == nil {
		var w []string
		w, err = TargetWarnings(ctx, conn, o.Roles, o.Tablespaces)
		res.Warnings = append(res.Warnings, w...)
	}
	conn.Close(context.WithoutCancel(ctx))
	return res, err
}

// Expected is what a restored database is compared with: the manifest's counts (and digests), sequences and
// inventory, and the archive's own rows (Content, read as the restore ran; RestoreAndDigest) with the output
// settings the dump ran with (DumpSettings). Content is compared only when DumpSettings are known.
type Expected struct {
	Tables       []TableCount
	Sequences    []SequenceValue
	Inventory    *ObjectInventory
	Content      *ArchiveContent
	DumpSettings map[string]string
	// Connect, when set, opens another connection to the restored database so its rows are read back on two
	// connections at once (RestoredContent).
	Connect func(context.Context) (*pgx.Conn, error)
}

// ContentNotCompared is the warning for an archive whose output settings are unknown (an upload, a backup
// from before they were recorded): its rows' text cannot be reproduced, so only counts are compared.
const ContentNotCompared = "row content not compared with the archive: the settings its rows were written in are not recorded (an upload, or a backup taken before pisbackup recorded them); counts are compared"

// CompareRestored counts every table of the restored database on conn (digesting those the manifest has a
// digest for), compares each table's rows with the archive's (Expected.Content), reads its sequences and its
// ObjectInventory, compares them with the manifest's and fills res.Tables, res.Sequences, res.Objects and
// res.Mismatches. res.Problems must already hold the restore's problems: an object a problem names is tied to
// it (CompareInventory). A nil inventory (a manifest from before it was recorded) is not compared and adds a
// warning saying so. The error names the differing objects (at most ten). conn (and Expected.Connect's) should
// start with NoTimeouts: the restored database carries the source's timeouts.
func CompareRestored(ctx context.Context, conn *pgx.Conn, exp Expected, res *DrillResult) error {
	expected, seqs, inv := exp.Tables, exp.Sequences, exp.Inventory
	withDigest := map[string]bool{}
	for _, t := range expected {
		if t.Digest != "" {
			withDigest[t.Schema+"."+t.Name] = true
		}
	}
	// Each table's rows are read once: COPY gives the content and the count (a table only COPY could not read
	// is counted with count(*), whose error then says why).
	var got map[string]*TableContent
	var err error
	known := map[string]int64{}
	if exp.Content != nil && exp.DumpSettings != nil {
		var w []string
		if got, w, err = RestoredContent(ctx, conn, exp.Content, exp.DumpSettings, exp.Connect); err != nil {
			return fmt.Errorf("read restored rows: %w", err)
		}
		res.Warnings = append(res.Warnings, w...)
		for _, t := range got {
			if t.Rows >= 0 && t.Key != "" {
				known[t.Key] = t.Rows
			}
		}
	} else {
		res.Warnings = append(res.Warnings, ContentNotCompared)
	}
	actual, err := countTables(ctx, conn, func(schema, name string, _ bool) bool { return withDigest[schema+"."+name] }, known)
	if err != nil {
		return fmt.Errorf("count restored rows: %w", err)
	}
	res.Tables, res.Mismatches = CompareCounts(expected, actual)
	if got != nil {
		res.Mismatches += compareContent(res, exp.Content, got)
		res.Mismatches -= reconcileLeaves(res, exp.Content, got)
	}
	var badSeq, badObj int
	if seqs != nil {
		got, err := SequenceValues(ctx, conn)
		if err != nil {
			return err
		}
		res.Sequences, badSeq = CompareSequences(seqs, got)
	}
	if inv == nil {
		res.Warnings = append(res.Warnings, InventoryNotRecorded)
	} else {
		got, err := ReadInventory(ctx, conn, inv.LargeObjects.Digest != "")
		if err != nil {
			return err
		}
		res.Objects = CompareInventory(inv, got, res.Problems, func(schema, name string) (int64, error) {
			return MatViewQueryRows(ctx, conn, schema, name)
		})
		badObj = res.Objects.Failing()
	}
	if res.Mismatches+badSeq+badObj == 0 {
		return nil
	}
	var names []string
	for _, t := range res.Tables {
		if !t.Match {
			what := "row count"
			if t.Content == "differs" && t.Expected == t.Actual {
				what = "content"
			}
			names = append(names, t.Table+" ("+what+")")
		}
	}
	for _, q := range res.Sequences {
		if !q.Match {
			names = append(names, q.Sequence+" (sequence value)")
		}
	}
	if res.Objects != nil {
		for _, d := range res.Objects.Differences {
			if d.Fails {
				names = append(names, d.What)
			}
		}
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("… %d more in the details", len(names)-10))
	}
	n := res.Mismatches
	res.Mismatches += badSeq + badObj
	objects := ""
	if res.Objects != nil {
		objects = fmt.Sprintf(" and %d schema objects, materialized views or large objects", badObj)
	}
	return fmt.Errorf("%d of %d tables, %d of %d sequences%s differ from the backup after restore: %s",
		n, len(res.Tables), badSeq, len(res.Sequences), objects, strings.Join(names, "; "))
}

// MatViewQueryRows counts the rows the materialized view schema.name's own query (pg_get_viewdef) gives on
// conn's database now, in a read-only transaction under the session's search_path, without refreshing the view.
func MatViewQueryRows(ctx context.Context, conn *pgx.Conn, schema, name string) (int64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var def string
	if err := tx.QueryRow(ctx, "SELECT pg_get_viewdef(format('%I.%I', $1::text, $2::text)::regclass)", schema, name).Scan(&def); err != nil {
		return 0, err
	}
	var n int64
	err = tx.QueryRow(ctx, "SELECT count(*) FROM ("+strings.TrimSuffix(strings.TrimSpace(def), ";")+") q").Scan(&n)
	return n, err
}

// InventoryNotRecorded is the warning for a manifest without an ObjectInventory.
const InventoryNotRecorded = "schema objects (functions, views, triggers, policies, indexes, constraints), materialized view row counts and large objects: not recorded in this backup, not compared"

// TargetWarnings names what the target server cannot carry of a backup: referenced roles it lacks (roles are
// global objects no database dump creates, so their grants, policies and ownerships are not restored; each
// failed one is also a RestoreProblem) and tablespaces, whose tables pg_restore --no-tablespaces put in the
// target's default tablespace.
func TargetWarnings(ctx context.Context, q RowQuerier, roles, spaces []string) ([]string, error) {
	var out []string
	if len(roles) > 0 {
		missing, err := MissingRoles(ctx, q, roles)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("the target server lacks role(s) %s that the backup references: their grants and policies were not restored, nor the other grants on the same objects; create them (restore --create-roles with ROLE_ADMIN_DATABASE_URL, or as an administrator: %s) and restore again", strings.Join(missing, ", "), strings.Join(CreateRoleStatements(missing), " ")))
		}
	}
	for _, sp := range spaces {
		out = append(out, fmt.Sprintf("tables of tablespace %q were restored into the target's default tablespace", sp))
	}
	return out, nil
}

// CompareSequences lines up the manifest's sequence values with the restored ones.
func CompareSequences(expected, actual []SequenceValue) ([]SequenceCheck, int) {
	got := map[string]SequenceValue{}
	for _, s := range actual {
		got[s.Schema+"."+s.Name] = s
	}
	var out []SequenceCheck
	bad := 0
	for _, s := range expected {
		k := s.Schema + "." + s.Name
		c := SequenceCheck{Sequence: k, Expected: s}
		if a, ok := got[k]; ok {
			c.Actual = &a
			c.Match = a == s
		}
		if !c.Match {
			bad++
		}
		out = append(out, c)
	}
	return out, bad
}

// CompareCounts lines up expected and actual counts table by table. With no expectation at all every
// restored table is listed as found, not as a mismatch: there is nothing to contradict.
func CompareCounts(expected, actual []TableCount) ([]TableCheck, int) {
	got, digest := map[string]int64{}, map[string]string{}
	for _, t := range actual {
		got[t.Schema+"."+t.Name] = t.Rows
		digest[t.Schema+"."+t.Name] = t.Digest
	}
	var out []TableCheck
	bad := 0
	seen := map[string]bool{}
	for _, t := range expected {
		k := t.Schema + "." + t.Name
		seen[k] = true
		a, ok := got[k]
		if !ok {
			a = -1
		}
		c := TableCheck{Table: k, Expected: t.Rows, Actual: a, Match: ok && a == t.Rows}
		if t.Digest != "" {
			c.Content = "same"
			if !ok || digest[k] != t.Digest {
				c.Content, c.Match = "differs", false
			}
		}
		if !c.Match {
			bad++
		}
		out = append(out, c)
	}
	for _, t := range actual {
		k := t.Schema + "." + t.Name
		if seen[k] {
			continue
		}
		c := TableCheck{Table: k, Expected: -1, Actual: t.Rows, Match: len(expected) == 0}
		if !c.Match {
			bad++
		}
		out = append(out, c)
	}
	return out, bad
}

// compareContent marks each table whose restored rows (got) differ from the archive's (want) and returns how
// many checks it turned into mismatches. A table only the archive has is added as a check of its own.
func compareContent(res *DrillResult, want *ArchiveContent, got map[string]*TableContent) int {
	bad := 0
	at := map[string]int{}
	for i, c := range res.Tables {
		at[c.Table] = i
	}
	for _, k := range slices.Sorted(maps.Keys(want.Tables)) {
		w, g := want.Tables[k], got[k]
		same := g != nil && g.Rows == w.Rows && g.Sum == w.Sum
		name := k
		if g != nil && g.Key != "" {
			name = g.Key
		}
		i, ok := at[name]
		if !ok {
			actual := int64(-1)
			if g != nil {
				actual = g.Rows
			}
			res.Tables = append(res.Tables, TableCheck{Table: name, Expected: w.Rows, Actual: actual, Match: true})
			i = len(res.Tables) - 1
		}
		c := &res.Tables[i]
		switch {
		case !same:
			c.Content = "differs"
			if c.Match {
				c.Match = false
				bad++
			}
		case c.Content == "":
			c.Content = "same"
		}
	}
	return bad
}

// reconcileLeaves accepts leaf partitions whose rows the archive loads through their partitioned root
// (TableContent.Leaves) when only their counts differ and the leaves' counts add up to the root's on both
// sides: the rows were routed to other leaves on restore (a hash on an enum differs between databases), and the
// root's check compares their content as a whole. It returns how many mismatches it took back.
func reconcileLeaves(res *DrillResult, want *ArchiveContent, got map[string]*TableContent) int {
	at := map[string]int{}
	for i, c := range res.Tables {
		at[c.Table] = i
	}
	fixed := 0
	for _, k := range slices.Sorted(maps.Keys(got)) {
		g, w := got[k], want.Tables[k]
		if len(g.Leaves) == 0 || w == nil || g.Rows != w.Rows {
			continue
		}
		var expSum, actSum int64
		var moved []int
		ok := true
		for _, leaf := range g.Leaves {
			i, found := at[leaf]
			if !found || res.Tables[i].Content == "differs" || res.Tables[i].Expected < 0 || res.Tables[i].Actual < 0 {
				ok = false
				break
			}
			expSum += res.Tables[i].Expected
			actSum += res.Tables[i].Actual
			if !res.Tables[i].Match {
				moved = append(moved, i)
			}
		}
		if !ok || expSum != w.Rows || actSum != g.Rows || len(moved) == 0 {
			continue
		}
		for _, i := range moved {
			res.Tables[i].Match = true
			fixed++
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s: the archive loads its partitions' rows through it (hash partitioning on an enum), "+
			"and some rows landed in other partitions than in the source; its rows are compared as a whole", g.Key))
	}
	return fixed
}

func firstDataLoss(p RestoreProblems) string {
	for _, x := range p.List {
		if x.DataLost {
			return x.String()
		}
	}
	return "pg_restore reported errors it did not attribute to an archive entry"
}
