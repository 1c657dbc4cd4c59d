package backup

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/queries"
)

// DBIdentity is a database as its server describes it, not as a connection string spells it.
type DBIdentity struct {
	// Server is "sysid:<system_identifier>" from pg_control_system(), which every database of one cluster
	// shares and no other cluster has (a physical replica shares its primary's, and is the same data anyway),
	// or "" when the server would not say; "" compares as the same server as anything (see SameServer).
	Server   string
	Database string // current_database()
	OID      uint32 // pg_database.oid: changes when a database of the same name is dropped and created again
}

// SameServer reports whether two server identities may be the same cluster. An unknown identity may be any
// server, so it matches everything: the guards err towards "this is the protected database".
func SameServer(a, b string) bool { return a == "" || b == "" || a == b }

// Identify connects with s and asks the server which database that really is (current_database(), resolved
// by libpq's rules and the PG* environment by dbconn, then confirmed by the server) and on which cluster.
func Identify(ctx context.Context, s *dbconn.Settings) (DBIdentity, error) {
	conn, err := s.Connect(ctx)
	if err != nil {
		return DBIdentity{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return identify(ctx, conn)
}

func identify(ctx context.Context, conn *pgx.Conn) (DBIdentity, error) {
	var id DBIdentity
	err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT oid FROM pg_database WHERE datname = current_database())`).
		Scan(&id.Database, &id.OID)
	if err != nil {
		return id, fmt.Errorf("ask the server which database this is: %w", err)
	}
	id.Server = serverID(ctx, conn)
	return id, nil
}

// serverID is the cluster's system identifier, or "" when pg_control_system() is not available to the role.
// It is a statement of its own outside any transaction, so a refusal leaves the connection usable.
func serverID(ctx context.Context, conn *pgx.Conn) string {
	var sys int64
	if err := conn.QueryRow(ctx, `SELECT system_identifier FROM pg_control_system()`).Scan(&sys); err != nil || sys == 0 {
		return ""
	}
	return "sysid:" + strconv.FormatInt(sys, 10)
}

// Guard answers, by asking the servers, what a destructive step may touch: it creates databases and marks them
// as pisbackup's (COMMENT ON DATABASE plus a row in the catalog, by server, name and oid) and drops or
// replaces only databases so marked, never the clinic database, the catalog or another installation's catalog.
type Guard struct {
	// Admin connects to the restore server's maintenance database as the restore role (RESTORE_DATABASE_URL,
	// else SOURCE_DATABASE_URL, with database "postgres").
	Admin *dbconn.Settings
	// AdminVar names where Admin came from, for messages (see config.RestoreServerVar).
	AdminVar string
	// AllowPowerful is the RESTORE_ALLOW_SUPERUSER opt-out: a role with more than CREATEDB is accepted.
	AllowPowerful bool
	// Catalog and Source are pisbackup's own database and the clinic database, as configured.
	Catalog, Source *dbconn.Settings
	// Q reads and writes the catalog's installation id and ownership records.
	Q *queries.Queries
	// Replacing is the existing database an administrator explicitly allowed this restore to replace
	// (--replace-unowned and the typed name). The restore role must own it to drop it, so CheckRole does not
	// count that one database against the role; it still refuses the source and the catalog.
	Replacing string
}

// CheckRole asks the server whether the restore role may run a dump's SQL (InspectRestoreRole, then Verdict
// with the RESTORE_ALLOW_SUPERUSER opt-out). Every
// drill and restore calls it before creating anything.
//
// Beyond InspectRestoreRole it asks the servers which databases the clinic (Source) and the catalog really are
// and refuses a restore role that owns either on the same server, even one pisbackup restored and marked (a
// restored database the clinic was switched to): their owner could ALTER or rename them from a dump's SQL. A
// source or catalog that cannot be identified now is left to the checks that need it (backups, targets).
func (g *Guard) CheckRole(ctx context.Context) (RestoreRole, error) {
	r, err := InspectRestoreRole(ctx, g.Admin)
	if err != nil {
		return r, err
	}
	if r.Superuser {
		return r, r.Verdict(g.AdminVar, g.AllowPowerful)
	}
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return r, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	forged, err := g.forgedMarks(ctx, conn, server)
	if err != nil {
		return r, err
	}
	owns := slices.DeleteFunc(append(r.Owns, forged...), func(n string) bool { return g.Replacing != "" && n == g.Replacing })
	r.Owns = g.ownsProtected(ctx, conn, server, owns)
	return r, r.Verdict(g.AdminVar, g.AllowPowerful)
}

// forgedMarks lists the databases the restore role owns whose comment says this installation created them
// although its catalog holds no matching record (server, name, oid): a mark written by hand, or left on a
// database of the same name created again by someone else. The comment alone is anyone's word; only this
// installation's catalog can vouch for its own marks. Without a catalog (Q or Catalog nil: the start-up
// check) it lists nothing. A database being created right now is recorded before it is marked (CreateOwnedAs).
func (g *Guard) forgedMarks(ctx context.Context, conn *pgx.Conn, server string) ([]string, error) {
	if g.Q == nil || g.Catalog == nil {
		return nil, nil
	}
	inst, err := g.Installation(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT d.datname::text, d.oid FROM pg_database d
		WHERE d.datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user)
		  AND shobj_description(d.oid, 'pg_database') LIKE $1 || '%' ORDER BY 1`, ownedMark+inst+" ")
	if err != nil {
		return nil, fmt.Errorf("ask the server about the restore role's databases: %w", err)
	}
	type db struct {
		name string
		oid  uint32
	}
	marked, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (db, error) {
		var d db
		return d, r.Scan(&d.name, &d.oid)
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range marked {
		rec, err := g.Q.OwnedDatabaseGet(ctx, queries.OwnedDatabaseGetParams{Server: server, Datname: d.name})
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && rec.Datoid != int64(d.oid)) {
			out = append(out, d.name+" (marked as this installation's, but its catalog has no record of creating it)")
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ownsProtected puts in front of owns the source and catalog databases when the restore role owns them on its own
// server, described so the refusal says which database it is and where it was configured.
func (g *Guard) ownsProtected(ctx context.Context, conn *pgx.Conn, server string, owns []string) []string {
	var protected []string
	for _, p := range []struct {
		db       *dbconn.Settings
		variable string
		what     string
	}{{g.Source, "SOURCE_DATABASE_URL", "the clinic database"}, {g.Catalog, "DATABASE_URL", "pisbackup's catalog"}} {
		if p.db == nil {
			continue
		}
		id, err := Identify(ctx, p.db)
		if err != nil || !SameServer(id.Server, server) {
			continue
		}
		var mine bool
		if conn.QueryRow(ctx, `SELECT datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) FROM pg_database WHERE oid = $1 AND datname = $2`,
			id.OID, id.Database).Scan(&mine) != nil || !mine {
			continue
		}
		owns = slices.DeleteFunc(owns, func(n string) bool { return n == id.Database })
		protected = append(protected, fmt.Sprintf("%s (%s, %s)", id.Database, p.what, p.variable))
	}
	return append(protected, owns...) // named first: they are why the refusal matters most
}

// Installation returns this catalog's installation id (12 lower-case letters and digits), minting one the
// first time and again whenever the catalog database is not the one the stored id was minted in (a copy of a
// production catalog restored for staging, or a test database cloned from a template, gets its own id).
func (g *Guard) Installation(ctx context.Context) (string, error) {
	cat, err := Identify(ctx, g.Catalog)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	cur, err := g.Q.InstallationGet(ctx)
	if err == nil && cur.CatalogSysid == cat.Server && cur.CatalogOid == int64(cat.OID) {
		return cur.ID, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("read the installation id: %w", err)
	}
	err = g.Q.InstallationSet(ctx, queries.InstallationSetParams{ID: newInstallationID(), CatalogSysid: cat.Server, CatalogOid: int64(cat.OID)})
	if err == nil {
		cur, err = g.Q.InstallationGet(ctx) // whichever process minted first
	}
	if err != nil {
		return "", fmt.Errorf("record the installation id: %w", err)
	}
	return cur.ID, nil
}

func newInstallationID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ScratchName is the drill scratch database of verification id in installation inst.
func ScratchName(inst string, id int64) string {
	return DrillPrefix + inst + "_" + strconv.FormatInt(id, 10)
}

// RecoveryScratchName is the scratch database a record recovery (internal/recordrecovery) restores its few
// tables into: pisbackup_drill_<installation>_r<recovery id>. It shares DrillPrefix, so no restore may target
// it, and is created, marked and dropped through the same Guard as a drill's (purpose "recovery").
func RecoveryScratchName(inst string, id int64) string {
	return DrillPrefix + inst + "_r" + strconv.FormatInt(id, 10)
}

// OwnershipError is a database pisbackup would drop or replace but did not create.
type OwnershipError struct{ Database, Why string }

func (e *OwnershipError) Error() string {
	return fmt.Sprintf("refusing to drop %q: %s", e.Database, e.Why)
}

// adminConn connects to the restore server and says which server it is.
func (g *Guard) adminConn(ctx context.Context) (*pgx.Conn, string, error) {
	conn, err := g.Admin.Connect(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("connect to the restore server (RESTORE_DATABASE_URL): %w", err)
	}
	return conn, serverID(ctx, conn), nil
}

func databaseOID(ctx context.Context, conn *pgx.Conn, name string) (uint32, bool, error) {
	var oid uint32
	err := conn.QueryRow(ctx, `SELECT oid FROM pg_database WHERE datname = $1`, name).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return oid, err == nil, err
}

// ownedMark begins the COMMENT ON DATABASE of every database pisbackup creates. The catalog's record (server,
// name, oid) is what pisbackup trusts before dropping; the comment tells people, and tells the restore-role
// check which databases the role owns only because pisbackup made them (see InspectRestoreRole).
const ownedMark = "created by pisbackup installation "

// CreateOwned creates the empty database name (from template0) on the restore server and marks it as this
// installation's: a COMMENT ON DATABASE a person can read, and a catalog row (server, name, oid) that is the
// mark pisbackup itself trusts. It fails when name already exists.
func (g *Guard) CreateOwned(ctx context.Context, name, purpose string) error {
	_, err := g.CreateOwnedAs(ctx, name, purpose, nil)
	return err
}

// CreateOwnedAs is CreateOwned with the source database's properties (nil: the server's defaults): the
// encoding, locale provider, collation/ctype and ICU locale go into CREATE DATABASE, then every database-level
// setting is re-applied (ALTER DATABASE … SET … FROM CURRENT after set_config, so the stored value is never
// pasted into SQL) and, for purpose "restore", the comment. What the target cannot take (a locale it lacks, a
// setting only a superuser may set) is returned as a warning: the database is then created with the
// server's defaults for that property, never left out.
func (g *Guard) CreateOwnedAs(ctx context.Context, name, purpose string, p *DatabaseProperties) ([]string, error) {
	var warnings []string
	inst, err := g.Installation(ctx)
	if err != nil {
		return nil, err
	}
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{name}.Sanitize()
	created := false
	if p != nil {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+id+" TEMPLATE template0"+createOptions(p)); err != nil {
			warnings = append(warnings, fmt.Sprintf("the target server cannot create a database with the source's encoding %s and locale (%s): %v; created with the server's defaults", p.Encoding, describeLocale(p), err))
		} else {
			created = true
		}
	}
	if !created {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+id+" TEMPLATE template0"); err != nil {
			return warnings, fmt.Errorf("create database %s: %w", name, err)
		}
	}
	// The catalog's record first, then the comment: CheckRole trusts a comment naming this installation only
	// with a matching record, so the record must never lag behind the comment.
	oid, _, err := databaseOID(ctx, conn, name)
	if err == nil {
		_ = g.Q.OwnedDatabaseForget(ctx, queries.OwnedDatabaseForgetParams{Server: server, Datname: name})
		_, err = g.Q.OwnedDatabaseRecord(ctx, queries.OwnedDatabaseRecordParams{Server: server, Datname: name, Datoid: int64(oid), Purpose: purpose})
	}
	if err == nil {
		_, err = conn.Exec(ctx, "COMMENT ON DATABASE "+id+" IS "+quoteLiteral(fmt.Sprintf(
			ownedMark+"%s as a %s database; pisbackup drops or replaces it", inst, purpose)))
	}
	if err == nil && p != nil {
		warnings = append(warnings, applySettings(ctx, conn, id, purpose, p)...)
	}
	if err != nil { // we created it a moment ago, so it is ours to remove
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)")
		_ = g.Q.OwnedDatabaseForget(context.WithoutCancel(ctx), queries.OwnedDatabaseForgetParams{Server: server, Datname: name})
		return warnings, fmt.Errorf("mark database %s as pisbackup's: %w", name, err)
	}
	return warnings, nil
}

// Owned reports whether name exists on the restore server and, if so, whether this catalog recorded creating
// exactly that database (same server, name and oid) for purpose.
func (g *Guard) Owned(ctx context.Context, name, purpose string) (exists, owned bool, err error) {
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return false, false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return g.owned(ctx, conn, server, name, purpose)
}

func (g *Guard) owned(ctx context.Context, conn *pgx.Conn, server, name, purpose string) (exists, owned bool, err error) {
	oid, exists, err := databaseOID(ctx, conn, name)
	if err != nil || !exists {
		return exists, false, err
	}
	row, err := g.Q.OwnedDatabaseGet(ctx, queries.OwnedDatabaseGetParams{Server: server, Datname: name})
	if errors.Is(err, pgx.ErrNoRows) {
		return true, false, nil
	} else if err != nil {
		return true, false, err
	}
	return true, row.Datoid == int64(oid) && row.Purpose == purpose, nil
}

// DropOwned drops name (disconnecting its sessions) only when this catalog recorded creating exactly that
// database; a missing database is fine. Anything else is an *OwnershipError and nothing is dropped. It
// ignores ctx's cancellation (a cancelled drill must still clean up) but bounds itself to a minute.
func (g *Guard) DropOwned(ctx context.Context, name, purpose string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	exists, owned, err := g.owned(ctx, conn, server, name, purpose)
	switch {
	case err != nil:
		return err
	case !exists:
		return g.Q.OwnedDatabaseForget(ctx, queries.OwnedDatabaseForgetParams{Server: server, Datname: name})
	case !owned:
		return &OwnershipError{Database: name, Why: "this pisbackup installation did not create it (no matching record in its catalog)"}
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return g.Q.OwnedDatabaseForget(ctx, queries.OwnedDatabaseForgetParams{Server: server, Datname: name})
}

// HoldsCatalog reports whether database name on the restore server holds a pisbackup catalog (this
// installation's or another's): a pisbackup_installation table, or the backups, verifications and river_job
// tables of a catalog older than it. It connects to that database as the restore role; a database it cannot
// look into is reported as an error, never as "no".
func (g *Guard) HoldsCatalog(ctx context.Context, name string) (bool, error) {
	conn, err := g.Admin.WithDatabase(name).Connect(ctx)
	if err != nil {
		return false, fmt.Errorf("cannot look into %q to rule out a pisbackup catalog: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var holds bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'pisbackup_installation' AND relkind IN ('r', 'p'))
		OR (SELECT count(DISTINCT relname) FROM pg_class WHERE relname IN ('backups', 'verifications', 'river_job') AND relkind IN ('r', 'p')) = 3`).Scan(&holds)
	if err != nil {
		return false, fmt.Errorf("cannot look into %q to rule out a pisbackup catalog: %w", name, err)
	}
	return holds, nil
}

// ErrBadTargetName is wrapped by CheckTarget's refusal of a name that is not a plain identifier.
var ErrBadTargetName = errors.New("refused")

// TargetState is what the server says about a restore target that passed CheckTarget.
type TargetState struct {
	Exists bool // the database exists now; replacing it drops its content
	Owned  bool // pisbackup created it for a restore (it may be replaced with the typed confirmation)
}

// CheckTarget decides, by asking the servers, whether a restore may write into database name on the restore
// server. A database that does not exist is always fine (nothing can be lost). An existing one is never
// allowed when it is the clinic (source) database or pisbackup's catalog (compared as server identity plus
// current_database(), whatever the connection strings spell), holds any pisbackup catalog, or is a
// PostgreSQL system or drill scratch database; otherwise it may be replaced when pisbackup created it for a
// restore, or, when replaceUnowned (the administrator's explicit flag), any other database.
func (g *Guard) CheckTarget(ctx context.Context, name string, replaceUnowned bool) (TargetState, error) {
	var st TargetState
	if !dbNameRE.MatchString(name) {
		return st, fmt.Errorf("%w: target database name %q is not allowed: use letters, digits and _ (at most 63)", ErrBadTargetName, name)
	}
	switch name {
	case "postgres", "template0", "template1":
		return st, fmt.Errorf("%w: %q is a PostgreSQL system database", ErrProtectedTarget, name)
	}
	if strings.HasPrefix(name, DrillPrefix) {
		return st, fmt.Errorf("%w: %q is reserved for restore drills", ErrProtectedTarget, name)
	}
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return st, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st.Exists, st.Owned, err = g.owned(ctx, conn, server, name, "restore")
	if err != nil || !st.Exists {
		return st, err
	}
	for _, p := range []struct {
		db       *dbconn.Settings
		variable string
		what     string
	}{{g.Source, "SOURCE_DATABASE_URL", "the clinic (source) database"}, {g.Catalog, "DATABASE_URL", "pisbackup's own catalog database"}} {
		id, err := Identify(ctx, p.db)
		if err != nil {
			return st, fmt.Errorf("%w: %q exists and pisbackup cannot ask %s which database is %s (%v); nothing was changed",
				ErrProtectedTarget, name, p.variable, p.what, err)
		}
		if SameServer(id.Server, server) && id.Database == name {
			return st, fmt.Errorf("%w: %q is %s (the server says so for %s); restore into a new database and switch over deliberately",
				ErrProtectedTarget, name, p.what, p.variable)
		}
	}
	holds, err := g.HoldsCatalog(ctx, name)
	if err != nil {
		return st, fmt.Errorf("%w: %v", ErrProtectedTarget, err)
	}
	if holds {
		return st, fmt.Errorf("%w: %q holds a pisbackup catalog (another installation's); it is never replaced", ErrProtectedTarget, name)
	}
	if !st.Owned && !replaceUnowned {
		return st, fmt.Errorf("%w: %q exists and pisbackup did not create it; restore into a new database, or (administrators, CLI only) "+
			"pass --replace-unowned and type its name to drop what it holds", ErrProtectedTarget, name)
	}
	return st, nil
}

// ReplaceTarget drops the existing target name (after CheckTarget allowed it) and creates it again, marked
// as pisbackup's restore database.
func (g *Guard) ReplaceTarget(ctx context.Context, name string, p *DatabaseProperties) ([]string, error) {
	conn, server, err := g.adminConn(ctx)
	if err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("drop %s: %w", name, err)
	}
	_ = g.Q.OwnedDatabaseForget(ctx, queries.OwnedDatabaseForgetParams{Server: server, Datname: name})
	return g.CreateOwnedAs(ctx, name, "restore", p)
}

// cleanupTimeout bounds a drop that runs after its job's context was cancelled.
const cleanupTimeout = time.Minute

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// createOptions is the CREATE DATABASE clause for p: ENCODING, LOCALE_PROVIDER (PostgreSQL 15+, only when not
// libc), ICU_LOCALE, LC_COLLATE and LC_CTYPE, every value a quoted literal.
func createOptions(p *DatabaseProperties) string {
	var b strings.Builder
	if p.Encoding != "" {
		b.WriteString(" ENCODING " + quoteLiteral(p.Encoding))
	}
	if p.LocaleProvider != "" && p.LocaleProvider != "libc" {
		b.WriteString(" LOCALE_PROVIDER " + pgx.Identifier{p.LocaleProvider}.Sanitize())
		if p.ICULocale != "" && p.LocaleProvider == "icu" {
			b.WriteString(" ICU_LOCALE " + quoteLiteral(p.ICULocale))
		}
	}
	if p.Collate != "" {
		b.WriteString(" LC_COLLATE " + quoteLiteral(p.Collate))
	}
	if p.Ctype != "" {
		b.WriteString(" LC_CTYPE " + quoteLiteral(p.Ctype))
	}
	return b.String()
}

func describeLocale(p *DatabaseProperties) string {
	d := "provider " + p.LocaleProvider + ", collate " + p.Collate + ", ctype " + p.Ctype
	if p.ICULocale != "" {
		d += ", ICU locale " + p.ICULocale
	}
	return d
}

// applySettings re-applies the source's ALTER DATABASE … SET settings and, for a restore, its comment; each
// one the target refuses becomes a warning.
func applySettings(ctx context.Context, conn *pgx.Conn, id, purpose string, p *DatabaseProperties) []string {
	var warnings []string
	for _, kv := range p.Settings {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", k, v); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "ALTER DATABASE "+id+" SET "+pgx.Identifier{k}.Sanitize()+" FROM CURRENT")
			return err
		})
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("database setting %s was not re-applied: %v", kv, err))
		}
	}
	if purpose == "restore" && p.Comment != "" {
		if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+id+" IS "+quoteLiteral(p.Comment)); err != nil {
			warnings = append(warnings, fmt.Sprintf("the database comment was not re-applied: %v", err))
		}
	}
	return warnings
}
