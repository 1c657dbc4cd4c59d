package views

import (
	"regexp"
	"strings"
)

// Failure is a failed backup explained for clinic staff: What went wrong, in words, and what to Check (which
// variable, which permission). The raw error text stays on the page beneath it for whoever debugs it.
type Failure struct {
	What  string
	Check string
}

// deniedRe reads PostgreSQL's "permission denied for table x" in each way it names x: bare, quoted, or
// schema-qualified ("public"."authentication_user").
var deniedRe = regexp.MustCompile(`(?i)permission denied for (table|sequence|schema|relation|database) ((?:"[^"]+"|[^\s".,:;]+)(?:\.(?:"[^"]+"|[^\s".,:;]+))?)`)

// failureRules are tried in order against the error text (case-insensitive substrings). The texts they match
// are libpq's and pg_dump's own messages (as pg_dump prints them), pgx's dial errors, and our storage layer's.
var failureRules = []struct {
	any []string
	f   Failure
}{
	{[]string{"password authentication failed", "no password supplied", "no pg_hba.conf entry"},
		Failure{"The clinic database refused the password (or the login) of the backup role.",
			"The user name and password in SOURCE_DATABASE_URL (or PGPASSWORD / the pass file), and that the role may log in from this server."}},
	{[]string{"connection refused", "no such host", "could not translate host name", "i/o timeout", "network is unreachable",
		"timeout expired", "could not connect", "server closed the connection unexpectedly"},
		Failure{"pisbackup could not reach the clinic database.",
			"The host and port in SOURCE_DATABASE_URL, that the database server is running, and that it accepts connections from this server."}},
	{[]string{"server version mismatch", "unsupported version", "no pg_dump"},
		Failure{"The installed pg_dump does not fit the clinic's PostgreSQL server version.",
			"Install pg_dump of the server's major version or newer (PG_BIN_DIR selects the directory); the Health page's checks name both versions."}},
	{[]string{"does not exist"},
		Failure{"The database (or a role) named in SOURCE_DATABASE_URL does not exist on the server.",
			"The database name and user in SOURCE_DATABASE_URL."}},
	{[]string{"no space left on device", "disk full", "quota"},
		Failure{"The disk ran out of space while the backup was written.",
			"Free space for temporary files on this server and in the storage named by BACKUP_STORAGE."}},
	{[]string{"storage", "accessdenied", "nosuchbucket", "s3:", "putobject", "bucket"},
		Failure{"The backup could not be written to storage.",
			"BACKUP_STORAGE (bucket or directory) and that its credentials may write, read and delete objects; the Health page's storage check tries all three."}},
	{[]string{"age:", "recipient", "encrypt"},
		Failure{"The backup could not be encrypted.",
			"BACKUP_AGE_RECIPIENTS holds valid age public keys (age1…)."}},
	{[]string{"cancel"},
		Failure{"The backup was cancelled before it finished.",
			"Who cancelled it in the audit log; start a new backup when ready."}},
	{[]string{"heartbeat", "abandoned", "interrupted", "worker", "lease", "stuck"},
		Failure{"pisbackup stopped while this backup was running (a restart, deploy or crash).",
			"The server's logs around that time; start a new backup, or wait for the next scheduled one."}},
}

// ExplainFailure turns a failed backup's stored error text into a Failure. Unknown texts get a general
// explanation pointing at the preflight checks, never a guess presented as fact.
func ExplainFailure(errText string) Failure {
	low := strings.ToLower(errText)
	if m := deniedRe.FindStringSubmatch(errText); m != nil {
		kind, name := strings.ToLower(m[1]), strings.ReplaceAll(m[2], `"`, "")
		schema := "public"
		if kind == "schema" {
			schema = name
		} else if i := strings.LastIndex(name, "."); i > 0 {
			schema = name[:i]
		}
		return Failure{"The backup role may not read the " + kind + " " + name + ", so pg_dump stopped.",
			"As the owner run GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO the backup role (and USAGE on the schema, SELECT on its sequences); the Health page lists every table it cannot read."}
	}
	for _, r := range failureRules {
		for _, s := range r.any {
			if strings.Contains(low, s) {
				return r.f
			}
		}
	}
	return Failure{"The backup did not finish; the error below is what the failing step reported.",
		"The Health page's checks (source database, pg_dump, storage, encryption keys), which say what to fix in one line each."}
}
