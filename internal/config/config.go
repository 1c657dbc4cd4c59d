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

	"github.com/uscpis/pisbackup/internal/pgclient"
)

// Config is every setting of SPEC section 9, parsed and checked. It is built once in run and passed down;
// nothing reads the environment after that.
type Config struct {
	DatabaseURL       string
	SourceDatabaseURL string
	MediaRoot         string
	BackupStorage     string
	AgeRecipients     []string
	AgeIdentityFile   string
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
	// SourceWriteDatabaseURL (SOURCE_WRITE_DATABASE_URL) connects to the clinic database as a role allowed to
	// INSERT and UPDATE its tables; only `pisbackup recover --apply` and its undo use it, so the backup role of
	// SOURCE_DATABASE_URL stays read-only. Empty: recoveries can be compared and scripted, never applied.
	SourceWriteDatabaseURL string
	// RestoreDatabaseURL connects, as a role allowed to CREATE DATABASE, to the server drills and restores
	// create databases on; empty means the clinic database's own server (see RestoreServer).
	RestoreDatabaseURL string
	// RestoreAllowSuperuser (RESTORE_ALLOW_SUPERUSER=true) lets drills and restores run a dump's SQL as a role
	// with more than CREATEDB (a superuser, say) on a single-user laptop; every start and every drill warns.
	RestoreAllowSuperuser bool
	// ContentDigests (BACKUP_CONTENT_DIGESTS, default true) takes a content digest of every table in the dump's
	// snapshot so drills compare content, not only counts (issue 22); false keeps counts and sequence values.
	ContentDigests bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES: CIDRs, or
	// "heroku"); unset, the client is the TCP peer.
	TrustedProxies TrustedProxies
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
		DatabaseURL:       l.pgURL("DATABASE_URL", "postgres://postgres@/pisbackup?host=/var/run/postgresql"),
		SourceDatabaseURL: l.pgURL("SOURCE_DATABASE_URL", "postgres://postgres@/pis_demo?host=/var/run/postgresql"),
		MediaRoot:         l.str("MEDIA_ROOT", "./var/media"),
		BackupStorage:     l.storageURL("BACKUP_STORAGE", "file://./var/backups"),
		AgeRecipients:     l.recipients("BACKUP_AGE_RECIPIENTS"),
		AgeIdentityFile:   l.str("BACKUP_AGE_IDENTITY_FILE", ""),
		Unencrypted:       l.boolean("BACKUP_UNENCRYPTED", false),
		SendGridAPIURL:    l.httpURL("SENDGRID_API_URL", "https://api.sendgrid.com"),
		DefaultFromEmail:  l.email("DEFAULT_FROM_EMAIL", "noreply@usc-pis.herokuapp.com"),
		AlertEmails:       l.emails("BACKUP_ALERT_EMAIL"),
		AlertRemindAfter:  l.duration("ALERT_REMIND_AFTER", 24*time.Hour),
		CloudinaryURL:     l.cloudinary(),
		Port:              l.port("PORT", 8080),
		DisplayTZ:         l.location("TZ_DISPLAY", "Asia/Manila"),
		PGClients: pgclient.Finder{BinDir: l.str("PG_BIN_DIR", ""),
			Roots: filepath.SplitList(l.str("PG_CLIENT_SEARCH_ROOT", defaultClientRoots(getenv("HOME")))), Path: getenv("PATH")},
		LogLevel:               l.level("LOG_LEVEL"),
		LogFormat:              l.oneOf("LOG_FORMAT", "auto", "auto", "json", "text"),
		MetricsToken:           l.str("METRICS_TOKEN", ""),
		FileColumns:            l.columns("MEDIA_REFERENCE_COLUMNS", DefaultFileColumns),
		RawFileColumns:         l.columns("MEDIA_RAW_COLUMNS", DefaultRawFileColumns),
		CloudinaryMediaPrefix:  l.mediaPrefix("CLOUDINARY_MEDIA_PREFIX"),
		CloudinaryMediaTag:     l.str("CLOUDINARY_MEDIA_TAG", DefaultCloudinaryMediaTag),
		HeartbeatTimeout:       l.duration("BACKUP_HEARTBEAT_TIMEOUT", 2*time.Minute),
		UploadMaxBytes:         l.size("UPLOAD_MAX_BYTES", 2<<30),
		RestoreDatabaseURL:     l.optionalPgURL("RESTORE_DATABASE_URL"),
		SourceWriteDatabaseURL: l.optionalPgURL("SOURCE_WRITE_DATABASE_URL"),
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
	c.ContentDigests = l.boolean("BACKUP_CONTENT_DIGESTS", true)
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
func (c *Config) RestoreServer() string {
	if c.RestoreDatabaseURL != "" {
		return c.RestoreDatabaseURL
	}
	return c.SourceDatabaseURL
}

// RestoreServerVar names where RestoreServer came from, for messages: "RESTORE_DATABASE_URL", or
// "SOURCE_DATABASE_URL (RESTORE_DATABASE_URL is not set)".
func (c *Config) RestoreServerVar() string {
	if c.RestoreDatabaseURL != "" {
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

// String is safe to log: every URL is redacted and keys are reduced to whether they are set.
func (c *Config) String() string {
	return fmt.Sprintf("database=%s source=%s storage=%s media=%s sendgrid=%t cloudinary=%t port=%d base=%s",
		RedactURL(c.DatabaseURL), RedactURL(c.SourceDatabaseURL), RedactURL(c.BackupStorage), c.MediaRoot,
		c.EmailConfigured(), c.CloudinaryConfigured(), c.Port, c.BaseURL)
}

// LogValue keeps secrets out of structured logs even when a Config is logged by mistake.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// RedactURL hides the password (and any secret-looking query value) of a URL or libpq connection string.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		// A keyword/value conninfo: blank out password=...
		fields := strings.Fields(raw)
		for i, f := range fields {
			if strings.HasPrefix(strings.ToLower(f), "password=") {
				fields[i] = "password=xxxxx"
			}
		}
		return strings.Join(fields, " ")
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "password") || strings.Contains(lk, "secret") || strings.Contains(lk, "key") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
