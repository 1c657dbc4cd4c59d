package config

import (
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, 8080, c.Port)
	require.Equal(t, "Asia/Manila", c.DisplayTZ.String())
	require.Equal(t, "file://./var/backups", c.BackupStorage)
	require.Equal(t, 24*time.Hour, c.AlertRemindAfter)
	require.False(t, c.EmailConfigured())
	require.False(t, c.SecureCookies())
}

// The seed's Heroku variable names keep working.
func TestSeedAliases(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"EMAIL_HOST_PASSWORD": "SG.key", "DEFAULT_FROM_EMAIL": "noreply@clinic.example", "CLOUDINARY_CLOUD_NAME": "usc", "CLOUDINARY_API_KEY": "123",
		"CLOUDINARY_API_SECRET": "shh", "BASE_URL": "https://backups.example.edu/",
	}))
	require.NoError(t, err)
	require.Equal(t, "SG.key", c.SendGridAPIKey)
	require.Equal(t, "cloudinary://123:shh@usc", c.CloudinaryURL)
	require.True(t, c.SecureCookies())
	require.NotContains(t, c.String(), "SG.key")
	require.NotContains(t, c.String(), "shh")
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	for name, val := range map[string]string{
		"PORT": "99999", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "ALERT_REMIND_AFTER": "-1h",
		"BACKUP_ALERT_EMAIL": "ops@clinic, not-an-address", "SENDGRID_API_URL": "ftp://x", "BACKUP_UNENCRYPTED": "maybe",
		"CLOUDINARY_URL": "https://x", "MEDIA_REFERENCE_COLUMNS": "nodot", "DATABASE_URL": "mysql://x",
		"CLOUDINARY_API_KEY": "only-one-of-three", "MEDIA_RAW_COLUMNS": "other_table.file",
		"CLOUDINARY_MEDIA_PREFIX": "https://res.cloudinary.com/c/image/upload/",
	} {
		_, err := Load(env(map[string]string{name: val}))
		require.Error(t, err, name)
		msg := err.Error()
		require.False(t, strings.Contains(msg, "\n"), "one line")
		if name == "CLOUDINARY_API_KEY" {
			name = "CLOUDINARY_CLOUD_NAME"
		}
		require.Contains(t, msg, name)
	}
}

// Every database setting form prints without its password, and every configured secret is scrubbed.
func TestStringAndSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":         "postgres://u:CatalogPW1@h/db",
		"SOURCE_DATABASE_URL":  "host=127.0.0.1 port=5432 user=ro dbname=pis password=KvSecret42",
		"RESTORE_DATABASE_URL": "postgres://admin@h/postgres?password=S3cretQueryPW",
		"SENDGRID_API_KEY":     "SG.sendgridkey", "METRICS_TOKEN": "metricstoken", "DEFAULT_FROM_EMAIL": "ops@clinic.test",
		"CLOUDINARY_URL":        "cloudinary://123:cloudsecret@usc",
		"AWS_SECRET_ACCESS_KEY": "awssecretkey",
	}))
	require.NoError(t, err)
	require.Equal(t, "database=postgres://u:xxxxx@h:5432/db source=postgres://ro:xxxxx@127.0.0.1:5432/pis "+
		"storage=file://./var/backups media=./var/media sendgrid=true cloudinary=true port=8080 base=http://localhost:8080", c.String())
	all := "CatalogPW1 KvSecret42 S3cretQueryPW SG.sendgridkey metricstoken cloudsecret awssecretkey"
	require.Equal(t, "xxxxx xxxxx xxxxx xxxxx xxxxx xxxxx xxxxx", c.Scrub(all))
	require.Equal(t, "admin", c.RestoreServer().User())

	_, err = Load(env(map[string]string{"SOURCE_DATABASE_URL": "postgres://ro:abc@TopSecretTail99@host/pis"}))
	require.ErrorContains(t, err, "SOURCE_DATABASE_URL")
	require.NotContains(t, err.Error(), "TopSecretTail99")
}

// Client search roots: the apt buildpack's folder under HOME first, then the Debian layout; the variable
// replaces both.
func TestPGClientSearchRoots(t *testing.T) {
	t.Parallel()
	c, err := Load(func(k string) string { return map[string]string{"HOME": "/app", "PATH": "/usr/bin"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.PGClients.Roots, ":"); got != "/app/.apt/usr/lib/postgresql:/usr/lib/postgresql" {
		t.Fatalf("roots %q", got)
	}
	if c.PGClients.Path != "/usr/bin" {
		t.Fatalf("path %q", c.PGClients.Path)
	}
	c, err = Load(func(k string) string {
		return map[string]string{"HOME": "/app", "PG_CLIENT_SEARCH_ROOT": "/opt/pg:/srv/pg"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.PGClients.Roots, ":"); got != "/opt/pg:/srv/pg" {
		t.Fatalf("roots %q", got)
	}
}

// EMAIL_HOST_PASSWORD is a SendGrid key only with EMAIL_HOST_USER=apikey or an SG. value; a key needs a sender.
func TestSendGridKeySourceAndSender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vars       map[string]string
		key, where string
	}{
		{map[string]string{"SENDGRID_API_KEY": "SG.a", "EMAIL_HOST_PASSWORD": "SG.b"}, "SG.a", "SENDGRID_API_KEY"},
		{map[string]string{"EMAIL_HOST_PASSWORD": "p4ss", "EMAIL_HOST_USER": "apikey"}, "p4ss", "EMAIL_HOST_USER=apikey"},
		{map[string]string{"EMAIL_HOST_PASSWORD": "SG.x.y", "EMAIL_HOST_USER": "clinic@gmail.com"}, "SG.x.y", "SG."},
		{map[string]string{"EMAIL_HOST_PASSWORD": "gmail-app-password", "EMAIL_HOST_USER": "clinic@gmail.com"}, "", "not used"},
	} {
		tc.vars["DEFAULT_FROM_EMAIL"] = "USC-PIS Clinic <noreply@clinic.example>"
		c, err := Load(env(tc.vars))
		require.NoError(t, err, tc.vars)
		require.Equal(t, tc.key, c.SendGridAPIKey, tc.vars)
		require.Contains(t, c.SendGridKeySource, tc.where)
		require.NotContains(t, c.SendGridKeySource, "p4ss")
	}
	_, err := Load(env(map[string]string{"SENDGRID_API_KEY": "SG.a"}))
	require.ErrorContains(t, err, "DEFAULT_FROM_EMAIL: required when a SendGrid key is set")
	c, err := Load(env(map[string]string{}))
	require.NoError(t, err, "without a key the outbox needs no sender")
	require.Equal(t, "noreply@usc-pis.herokuapp.com", c.DefaultFromEmail)
}

func TestCloudinaryMediaPrefixMustBeAPublicIDPart(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"https://res.cloudinary.com/c/image/upload/", "../media/", "me dia/", "a//b", "100%/"} {
		_, err := Load(env(map[string]string{"CLOUDINARY_MEDIA_PREFIX": bad}))
		require.ErrorContains(t, err, "CLOUDINARY_MEDIA_PREFIX", bad)
	}
	c, err := Load(env(map[string]string{"CLOUDINARY_MEDIA_PREFIX": "/media/"}))
	require.NoError(t, err)
	require.Equal(t, "media/", c.CloudinaryMediaPrefix, "django-cloudinary-storage drops the leading slash")
}

// BACKUP_ALERT_EMAIL is an RFC 5322 address list: a quoted display name may hold a comma.
func TestAlertEmailsQuotedDisplayNameWithComma(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"BACKUP_ALERT_EMAIL": `"Head, Clinic" <head@clinic.example>, ops@clinic.example`}))
	require.NoError(t, err)
	require.Len(t, c.AlertEmails, 2)
	a, err := mail.ParseAddress(c.AlertEmails[0])
	require.NoError(t, err)
	require.Equal(t, "Head, Clinic", a.Name)
	require.Equal(t, "head@clinic.example", a.Address)
	require.Equal(t, "ops@clinic.example", c.AlertEmails[1])
}
