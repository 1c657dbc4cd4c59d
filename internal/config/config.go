// Package config reads pisbackup's environment into one typed, validated Config. Every bad value stops the
// program with one line naming the variable, and secrets never leave through String or slog.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uscpis/pisbackup/internal/dbconn"
	"github.com/uscpis/pisbackup/internal/pgclient"
	"github.com/uscpis/pisbackup/internal/secret"
)

// Config is every setting of SPEC section 9, parsed and checked. It is built once in run and passed down;
// nothing reads the environment after that.
type Config struct {
	// Catalog is pisbackup's own database (DATABASE_URL), Source the clinic database it backs up
	// (SOURCE_DATABASE_URL). Each is parsed once by internal/dbconn and prints without its password.
	Catalog         *dbconn.Settings
	Source          *dbconn.Settings
	MediaRoot       string
	BackupStorage   string
	AgeRecipients   []string
	AgeIdentityFile string
	// Unencrypted is the explicit opt-out (BACKUP_UNENCRYPTED=true); every page shows a warning while it is on.
	Unencrypted    bool
	SendGridAPIKey string
	// SendGridKeySource says which variable the key came from, or why EMAIL_HOST_PASSWORD was not taken as one.
	SendGridKeySource string
	SendGridAPIURL    string
	DefaultFromEmail  string
	AlertEmails       []string
	AlertRemindAfter  time.Duration
	CloudinaryURL     string
	Port              int
	BaseURL           *url.URL
	DisplayTZ         *time.Location
	// PGClients finds pg_dump/pg_restore: PG_BIN_DIR alone when set, else every major installed under
	// PG_CLIENT_SEARCH_ROOT (colon-separated; default $HOME/.apt/usr/lib/postgresql, where Heroku's apt
	// buildpack unpacks postgresql-client-<major>, then /usr/lib/postgresql), then PATH.
	PGClients    pgclient.Finder
	LogLevel     slog.Level
	LogFormat    string // "json", "text" or "auto" (text on a terminal)
	MetricsToken string
	// FileColumns are the clinic database's FileField/ImageField columns ("table.column") a full backup checks
	// and a media migration names assets for.
	FileColumns []string
	// RawFileColumns are the FileColumns whose field uses RawMediaCloudinaryStorage in the clinic app
	// (MEDIA_RAW_COLUMNS); every other column uses its default MediaCloudinaryStorage (resource type image).
	RawFileColumns []string
	// CloudinaryMediaPrefix is django-cloudinary-storage's PREFIX as the clinic app runs it
	// (CLOUDINARY_MEDIA_PREFIX: CLOUDINARY_STORAGE['PREFIX'], else the app's MEDIA_URL); "" by default.
	CloudinaryMediaPrefix string
	// CloudinaryMediaTag is the app's CLOUDINARY_STORAGE['MEDIA_TAG'] (CLOUDINARY_MEDIA_TAG), put on every
	// migrated asset so the app's listdir and deleteorphanedmedia see it.
	CloudinaryMediaTag string
	// HeartbeatTimeout is how long work may go without renewing its lease (judged on the database's clock) before
	// the reconciler declares its process dead and ends it (jobs/lease.go).
	HeartbeatTimeout time.Duration
	// UploadMaxBytes bounds an uploaded backup file (UPLOAD_MAX_BYTES: bytes, or with a K/M/G binary suffix).
	UploadMaxBytes int64
	// SourceWrite (SOURCE_WRITE_DATABASE_URL) connects to the clinic database as a role allowed to INSERT and
	// UPDATE its tables; only `pisbackup recover --apply` and its undo use it, so the backup role of
	// SOURCE_DATABASE_URL stays read-only. Nil: recoveries can be compared and scripted, never applied.
	SourceWrite *dbconn.Settings
	// RestoreDB connects, as a role allowed to CREATE DATABASE, to the server drills and restores create
	// databases on (RESTORE_DATABASE_URL); nil means the clinic database's own server (see RestoreServer).
	RestoreDB *dbconn.Settings
	// RoleAdmin (ROLE_ADMIN_DATABASE_URL) connects to the restore server as a role with CREATEROLE. Only a
	// restore asked to create roles (`restore --create-roles`, API create_roles) uses it, for exactly one kind of
	// statement: CREATE ROLE <name> NOLOGIN for roles the backup references and the server lacks. It never runs a
	// dump's SQL. Nil: such a restore is refused with the statements an administrator can run instead.
	RoleAdmin *dbconn.Settings
	// RestoreAllowSuperuser (RESTORE_ALLOW_SUPERUSER=true) lets drills and restores run a dump's SQL as a role
	// with more than CREATEDB (a superuser, say) on a single-user laptop; every start and every drill warns.
	RestoreAllowSuperuser bool
	// ContentDigests (BACKUP_CONTENT_DIGESTS, default false) also takes a content digest of every table in the
	// dump's snapshot: a second scan of every table, about 1.5× a backup's wall time (make bench), so it is a
	// verification level of its own. Without it drills still compare every table's rows with the archive's
	// (backup.RestoreAndDigest), and tables with stored generated columns (not in the archive) and large objects
	// are always digested in the snapshot (issue 22).
	ContentDigests bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES: CIDRs, or
	// "heroku"); unset, the client is the TCP peer.
	TrustedProxies TrustedProxies
	// otherSecrets are values read only to be scrubbed (AWS keys that storage reads itself, seed aliases).
	otherSecrets []string
}

// Error is a configuration problem: one variable, one line.
type Error struct {
	Var, Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Var, e.Msg) }

// Load reads the environment through getenv (never os.Getenv directly, so tests can pass their own).
func Load(getenv func(string) string) (*Config, error) {
	l := loader{getenv: getenv}
	c := &Config{
		Catalog:          l.pg("DATABASE_URL", "postgres://postgres@/pisbackup?host=/var/run/postgresql"),
		Source:           l.pg("SOURCE_DATABASE_URL", "postgres://postgres@/pis_demo?host=/var/run/postgresql"),
		MediaRoot:        l.str("MEDIA_ROOT", "./var/media"),
		BackupStorage:    l.storageURL("BACKUP_STORAGE", "file://./var/backups"),
		AgeRecipients:    l.recipients("BACKUP_AGE_RECIPIENTS"),
		AgeIdentityFile:  l.str("BACKUP_AGE_IDENTITY_FILE", ""),
		Unencrypted:      l.boolean("BACKUP_UNENCRYPTED", false),
		SendGridAPIURL:   l.httpURL("SENDGRID_API_URL", "https://api.sendgrid.com"),
		DefaultFromEmail: l.email("DEFAULT_FROM_EMAIL", "noreply@usc-pis.herokuapp.com"),
		AlertEmails:      l.emails("BACKUP_ALERT_EMAIL"),
		AlertRemindAfter: l.duration("ALERT_REMIND_AFTER", 24*time.Hour),
		CloudinaryURL:    l.cloudinary(),
		Port:             l.port("PORT", 8080),
		DisplayTZ:        l.location("TZ_DISPLAY", "Asia/Manila"),
		PGClients: pgclient.Finder{BinDir: l.str("PG_BIN_DIR", ""),
			Roots: filepath.SplitList(l.str("PG_CLIENT_SEARCH_ROOT", defaultClientRoots(getenv("HOME")))), Path: getenv("PATH")},
		LogLevel:              l.level("LOG_LEVEL"),
		LogFormat:             l.oneOf("LOG_FORMAT", "auto", "auto", "json", "text"),
		MetricsToken:          l.str("METRICS_TOKEN", ""),
		FileColumns:           l.columns("MEDIA_REFERENCE_COLUMNS", DefaultFileColumns),
		RawFileColumns:        l.columns("MEDIA_RAW_COLUMNS", DefaultRawFileColumns),
		CloudinaryMediaPrefix: l.mediaPrefix("CLOUDINARY_MEDIA_PREFIX"),
		CloudinaryMediaTag:    l.str("CLOUDINARY_MEDIA_TAG", DefaultCloudinaryMediaTag),
		HeartbeatTimeout: l.atLeast("BACKUP_HEARTBEAT_TIMEOUT", 2*time.Minute, 3*time.Second,
			"work renews its lease every second; under three missed renewals would end live work whenever the database is briefly slow"),
		UploadMaxBytes: l.size("UPLOAD_MAX_BYTES", 2<<30),
		RestoreDB:      l.optionalPg("RESTORE_DATABASE_URL"),
		SourceWrite:    l.optionalPg("SOURCE_WRITE_DATABASE_URL"),
		RoleAdmin:      l.optionalPg("ROLE_ADMIN_DATABASE_URL"),
	}
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "EMAIL_HOST_PASSWORD", "CLOUDINARY_API_SECRET", "SENDGRID_API_KEY"} {
		c.otherSecrets = append(c.otherSecrets, strings.TrimSpace(getenv(k)), getenv(k))
	}
	for _, rc := range c.RawFileColumns {
		if l.err == nil && !slices.Contains(c.FileColumns, rc) {
			l.fail("MEDIA_RAW_COLUMNS", "%s is not one of MEDIA_REFERENCE_COLUMNS", rc)
		}
	}
	c.SendGridAPIKey, c.SendGridKeySource = l.sendgridKey()
	if c.SendGridAPIKey != "" && strings.TrimSpace(getenv("DEFAULT_FROM_EMAIL")) == "" {
		l.fail("DEFAULT_FROM_EMAIL", "required when a SendGrid key is set (%s): SendGrid refuses (403) any sender that is not a verified Sender Identity, so name the address you verified",
			c.SendGridKeySource)
	}
	c.RestoreAllowSuperuser = l.boolean("RESTORE_ALLOW_SUPERUSER", false)
	c.ContentDigests = l.boolean("BACKUP_CONTENT_DIGESTS", false)
	c.TrustedProxies = l.proxies("TRUSTED_PROXIES")
	c.BaseURL = l.httpURLParsed("BASE_URL", fmt.Sprintf("http://localhost:%d", c.Port))
	if l.err != nil {
		return nil, l.err
	}
	return c, nil
}

// defaultClientRoots is where client majors are installed: the apt buildpack's folder under home (Heroku's
// /app/.apt), then the system's Debian/Ubuntu layout. A root that does not exist is skipped.
func defaultClientRoots(home string) string {
	if home == "" {
		return pgclient.DefaultRoot
	}
	return filepath.Join(home, ".apt", "usr", "lib", "postgresql") + string(filepath.ListSeparator) + pgclient.DefaultRoot
}

// RestoreServer is the connection drills and restores create their databases through: RESTORE_DATABASE_URL
// when set (the clinic's own role is often read-only, and managed hosts like Heroku forbid CREATE DATABASE),
// else SOURCE_DATABASE_URL.
func (c *Config) RestoreServer() *dbconn.Settings {
	if c.RestoreDB != nil {
		return c.RestoreDB
	}
	return c.Source
}

// RestoreServerVar names where RestoreServer came from, for messages: "RESTORE_DATABASE_URL", or
// "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)".
func (c *Config) RestoreServerVar() string {
	if c.RestoreDB != nil {
		return "RESTORE_DATABASE_URL"
	}
	return "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)"
}

// EmailConfigured reports whether e-mail goes to SendGrid (true) or the development outbox (false).
func (c *Config) EmailConfigured() bool { return c.SendGridAPIKey != "" }

// CloudinaryConfigured reports whether media can be migrated to or backed up from Cloudinary.
func (c *Config) CloudinaryConfigured() bool { return c.CloudinaryURL != "" }

// SecureCookies is true when the site is served over https, so session cookies get the Secure flag.
func (c *Config) SecureCookies() bool { return c.BaseURL.Scheme == "https" }

// Secrets is every secret this configuration holds: the passwords of each database setting (as resolved and
// as written), the SendGrid key, the metrics token, the Cloudinary secret and the AWS keys. Every error text
// bound for a row, a page, an e-mail, the API or a log line is scrubbed with it (see package secret).
func (c *Config) Secrets() *secret.Set {
	if c == nil {
		return nil
	}
	s := secret.NewSet(c.SendGridAPIKey, c.MetricsToken)
	for _, db := range []*dbconn.Settings{c.Catalog, c.Source, c.RestoreDB, c.SourceWrite, c.RoleAdmin} {
		if db != nil {
			s.Add(db.Secrets()...)
		}
	}
	if u, err := url.Parse(c.CloudinaryURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			s.Add(pw)
		}
	}
	s.Add(c.otherSecrets...)
	return s
}

// Scrub is c.Secrets().Scrub(text): the one redaction every outgoing text passes through.
func (c *Config) Scrub(text string) string { return c.Secrets().Scrub(text) }

// ScrubErr is the scrubbed text of err ("" for nil).
func (c *Config) ScrubErr(err error) string { return c.Secrets().Error(err) }

// ScrubWrap is err with its text scrubbed, still matching errors.Is/As (nil stays nil).
func (c *Config) ScrubWrap(err error) error { return c.Secrets().Wrap(err) }

// String is safe to log: database settings print without passwords, and keys are reduced to whether they
// are set.
func (c *Config) String() string {
	return c.Scrub(fmt.Sprintf("database=%s source=%s storage=%s media=%s sendgrid=%t cloudinary=%t port=%d base=%s",
		c.Catalog, c.Source, storageDisplay(c.BackupStorage), c.MediaRoot,
		c.EmailConfigured(), c.CloudinaryConfigured(), c.Port, c.BaseURL))
}

// storageDisplay is BACKUP_STORAGE with any user info password hidden (s3 URLs refuse credentials anyway).
func storageDisplay(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// LogValue keeps secrets out of structured logs even when a Config is logged by mistake.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
