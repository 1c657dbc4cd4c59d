package config

import (
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// loader keeps the first error only: the program stops on one clear line, not a wall of them.
type loader struct {
	getenv func(string) string
	err    error
}

func (l *loader) fail(name, format string, args ...any) {
	if l.err == nil {
		l.err = &Error{Var: name, Msg: fmt.Sprintf(format, args...)}
	}
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// sendgridKey picks the SendGrid API key: SENDGRID_API_KEY, else EMAIL_HOST_PASSWORD only when it is one
// (the clinic app's SMTP password may belong to another provider): with EMAIL_HOST_USER=apikey, SendGrid's
// SMTP user name, or a value shaped like a SendGrid key ("SG."). The second result says which was used, or
// why EMAIL_HOST_PASSWORD was not.
func (l *loader) sendgridKey() (key, source string) {
	if v := strings.TrimSpace(l.getenv("SENDGRID_API_KEY")); v != "" {
		return v, "SENDGRID_API_KEY"
	}
	v := strings.TrimSpace(l.getenv("EMAIL_HOST_PASSWORD"))
	if v == "" {
		return "", ""
	}
	switch user := strings.TrimSpace(l.getenv("EMAIL_HOST_USER")); {
	case user == "apikey":
		return v, "EMAIL_HOST_PASSWORD (EMAIL_HOST_USER=apikey, SendGrid's SMTP user)"
	case strings.HasPrefix(v, "SG."):
		return v, "EMAIL_HOST_PASSWORD (shaped like a SendGrid key, SG.)"
	}
	return "", "EMAIL_HOST_PASSWORD not used: EMAIL_HOST_USER is not apikey and the value is not a SendGrid key (SG.), so it belongs to another SMTP provider; set SENDGRID_API_KEY to send through SendGrid"
}

// pg parses a PostgreSQL connection setting with dbconn (URL or keyword/value, completed from PG* variables,
// service and pass files); its error never echoes the value.
func (l *loader) pg(name, def string) *dbconn.Settings {
	s, err := dbconn.Parse(l.str(name, def))
	if err != nil {
		l.fail(name, "%s", err)
		return nil
	}
	return s
}

func (l *loader) storageURL(name, def string) string {
	v := l.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "file" && u.Scheme != "s3") {
		l.fail(name, "must be file://DIR or s3://bucket/prefix, got %q", storageDisplay(v))
	}
	return v
}

func (l *loader) recipients(name string) []string {
	var out []string
	for _, r := range strings.FieldsFunc(l.getenv(name), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			l.fail(name, "%q is not an age X25519 recipient (age1...)", r)
			return nil
		}
		out = append(out, r)
	}
	return out
}

func (l *loader) boolean(name string, def bool) bool {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		l.fail(name, "must be true or false, got %q", v)
	}
	return b
}

func (l *loader) httpURLParsed(name, def string) *url.URL {
	v := l.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.fail(name, "must be an http(s) URL, got %q", v)
		return &url.URL{Scheme: "http", Host: "localhost"}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u
}

func (l *loader) httpURL(name, def string) string { return l.httpURLParsed(name, def).String() }

func (l *loader) email(name, def string) string {
	v := l.str(name, def)
	if _, err := mail.ParseAddress(v); err != nil {
		l.fail(name, "%q is not an e-mail address", v)
	}
	return v
}

// emails reads an RFC 5322 address list ("Head, Clinic" <head@x>, ops@x: a quoted display name may hold a
// comma); a bare address is kept as typed, a named one in its canonical form. Empty entries are skipped.
func (l *loader) emails(name string) []string {
	var out []string
	if list, err := mail.ParseAddressList(strings.Trim(l.getenv(name), " ,")); err == nil {
		for _, a := range list {
			if a.Name == "" {
				out = append(out, a.Address)
			} else {
				out = append(out, a.String())
			}
		}
		return out
	}
	for _, e := range strings.Split(l.getenv(name), ",") { // not one list: name the entry that is wrong
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		if _, err := mail.ParseAddress(e); err != nil {
			l.fail(name, "%q is not an e-mail address", e)
			return nil
		}
		out = append(out, e)
	}
	return out
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		l.fail(name, "must be a positive duration like 24h or 90m, got %q", v)
	}
	return d
}

// atLeast is duration with a floor: a value below min is refused naming why.
func (l *loader) atLeast(name string, def, min time.Duration, why string) time.Duration {
	d := l.duration(name, def)
	if d > 0 && d < min {
		l.fail(name, "must be at least %s (%s), got %q", min, why, l.getenv(name))
	}
	return d
}

// optionalPg is pg for a variable that may be left unset (nil).
func (l *loader) optionalPg(name string) *dbconn.Settings {
	if strings.TrimSpace(l.getenv(name)) == "" {
		return nil
	}
	return l.pg(name, "")
}

// size reads a byte count: digits with an optional K, M or G (binary) suffix, e.g. 2G or 500M.
func (l *loader) size(name string, def int64) int64 {
	v := strings.ToUpper(strings.TrimSpace(l.getenv(name)))
	if v == "" {
		return def
	}
	mult := int64(1)
	if i := strings.IndexAny(v, "KMG"); i > 0 && i >= len(v)-3 {
		mult = map[byte]int64{'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}[v[i]]
		v = v[:i]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		l.fail(name, "must be a positive size like 2G or 500M, got %q", l.getenv(name))
	}
	return n * mult
}

func (l *loader) port(name string, def int) int {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 {
		l.fail(name, "must be a port number 0-65535, got %q", v)
	}
	return p
}

func (l *loader) location(name, def string) *time.Location {
	v := l.str(name, def)
	loc, err := time.LoadLocation(v)
	if err != nil {
		l.fail(name, "unknown time zone %q", v)
		return time.UTC
	}
	return loc
}

func (l *loader) level(name string) slog.Level {
	var lv slog.Level
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		if err := lv.UnmarshalText([]byte(v)); err != nil {
			l.fail(name, "must be debug, info, warn or error, got %q", v)
		}
	}
	return lv
}

func (l *loader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// cloudinary accepts CLOUDINARY_URL or the seed's three separate variables.
func (l *loader) cloudinary() string {
	if v := strings.TrimSpace(l.getenv("CLOUDINARY_URL")); v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "cloudinary" || u.Host == "" || u.User == nil {
			l.fail("CLOUDINARY_URL", "must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME")
		}
		return v
	}
	name, key, secret := l.getenv("CLOUDINARY_CLOUD_NAME"), l.getenv("CLOUDINARY_API_KEY"), l.getenv("CLOUDINARY_API_SECRET")
	if name == "" && key == "" && secret == "" {
		return ""
	}
	if name == "" || key == "" || secret == "" {
		l.fail("CLOUDINARY_CLOUD_NAME", "CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY and CLOUDINARY_API_SECRET must be set together")
		return ""
	}
	return (&url.URL{Scheme: "cloudinary", User: url.UserPassword(key, secret), Host: name}).String()
}

// DefaultFileColumns are the clinic app's FileField/ImageField columns (galenelijah/USC-PIS backend models:
// file_uploads, health_info, reports), checked by full backups and named by media migrations unless
// MEDIA_REFERENCE_COLUMNS says otherwise.
var DefaultFileColumns = []string{
	"file_uploads_uploadedfile.file",
	"file_uploads_patientdocument.file",
	"health_info_healthinformationimage.image",
	"health_info_campaigntemplate.banner_image",
	"health_info_campaigntemplate.thumbnail_image",
	"health_info_healthcampaign.banner_image",
	"health_info_healthcampaign.pubmat_image",
	"health_info_healthcampaign.thumbnail_image",
	"health_info_campaignresource.file",
	"reports_generatedreport.file_path",
}

// DefaultRawFileColumns are the columns whose field the clinic app stores with RawMediaCloudinaryStorage
// (reports.GeneratedReport.file_path); the rest use the default MediaCloudinaryStorage (image).
var DefaultRawFileColumns = []string{"reports_generatedreport.file_path"}

// DefaultCloudinaryMediaTag is the MEDIA_TAG in the clinic app's CLOUDINARY_STORAGE settings.
const DefaultCloudinaryMediaTag = "usc-pis-media"

// columns reads a comma-separated table.column list; unset means def.
func (l *loader) columns(name string, def []string) []string {
	v := strings.TrimSpace(l.getenv(name))
	if v == "" {
		return def
	}
	var out []string
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		t, col, ok := strings.Cut(c, ".")
		if !ok || !ident(t) || !ident(col) {
			l.fail(name, "%q is not table.column", c)
			return nil
		}
		out = append(out, c)
	}
	return out
}

// mediaPrefix reads django-cloudinary-storage's PREFIX the way the library normalises it (leading "/"
// dropped). An absolute URL (a MEDIA_URL of https://res.cloudinary.com/...) is refused: the library would
// then put the whole URL into every public id and link to it unversioned, which no migration can match.
func (l *loader) mediaPrefix(name string) string {
	v := strings.TrimSpace(l.getenv(name))
	if strings.Contains(v, "://") {
		l.fail(name, "%q is a URL; set the app's PREFIX/MEDIA_URL path part (for example media/) or leave it empty", v)
		return ""
	}
	if strings.ContainsAny(v, `?&#\%<>+ `) || strings.Contains(v, "..") || strings.Contains(v, "//") {
		l.fail(name, "%q cannot be part of a Cloudinary public id (no spaces, .., //, or ? & # \\ %% < > +)", v)
		return ""
	}
	return strings.TrimLeft(v, "/")
}

func ident(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
func parseBool(s string) (bool, error) { return strconv.ParseBool(strings.TrimSpace(s)) }

func (l *loader) proxies(name string) TrustedProxies {
	t, err := ParseTrustedProxies(l.getenv(name))
	if err != nil {
		l.fail(name, "%s", err.(*Error).Msg)
	}
	return t
}
