// Package cloudinary wraps cloudinary-go for pisbackup: a signed upload with retries that honour 429
// Retry-After, the Admin API ping and resource listing, and downloads of originals for media backups. The
// API base comes from CLOUDINARY_URL's upload_prefix query parameter (cloudinary-go's own setting), which is
// how tests point the real client at a local server.
package cloudinary

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudinary/cloudinary-go/v2/api/admin"
	"github.com/cloudinary/cloudinary-go/v2/api/uploader"
	cldconfig "github.com/cloudinary/cloudinary-go/v2/config"
	"github.com/cloudinary/cloudinary-go/v2/logger"
)

var newMu sync.Mutex

// ErrNotConfigured means neither CLOUDINARY_URL nor the CLOUDINARY_CLOUD_NAME/API_KEY/API_SECRET trio is set.
var ErrNotConfigured = errors.New("Cloudinary is not configured: set CLOUDINARY_URL (cloudinary://API_KEY:API_SECRET@CLOUD_NAME) or CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY and CLOUDINARY_API_SECRET")

// Client talks to one Cloudinary cloud.
type Client struct {
	up    *uploader.API
	adm   *admin.API
	http  *http.Client
	cloud string
	// Retry bounds the retries of 429 and 5xx answers; tests shorten the waits.
	Retry RetryPolicy
}

// New builds a client from a CLOUDINARY_URL. The URL's secret stays inside the client: errors and String
// name only the cloud.
func New(rawURL string) (*Client, error) {
	if rawURL == "" {
		return nil, ErrNotConfigured
	}
	newMu.Lock() // cloudinary-go parses with a shared package-level decoder that is not safe for concurrent use
	cfg, err := cldconfig.NewFromURL(rawURL)
	newMu.Unlock()
	if err != nil {
		return nil, errors.New("CLOUDINARY_URL: cannot parse (want cloudinary://API_KEY:API_SECRET@CLOUD_NAME)")
	}
	cfg.API.UploadTimeout = 600
	// No overall timeout (a large original may take long to move), but a server that accepts a request and
	// then says nothing must not hang a backup or a migration for hours.
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ResponseHeaderTimeout = 5 * time.Minute
	hc := &http.Client{Transport: &statusTransport{base: base}}
	up, _ := uploader.NewWithConfiguration(cfg)
	adm, _ := admin.NewWithConfiguration(cfg)
	quiet := logger.New()
	quiet.SetLevel(logger.NONE) // the client logs response bodies at debug level; keep them out of our logs
	up.Logger, adm.Logger = quiet, quiet
	up.Client, adm.Client = *hc, *hc
	return &Client{up: up, adm: adm, http: hc, cloud: cfg.Cloud.CloudName, Retry: DefaultRetry}, nil
}

// String names the cloud without credentials.
func (c *Client) String() string { return "cloudinary://" + c.cloud }

// CloudName is the configured cloud.
func (c *Client) CloudName() string { return c.cloud }

// Ping calls the Admin API ping and turns every failure into one of three plain answers: bad credentials,
// unreachable, or an unexpected answer (with its status).
func (c *Client) Ping(ctx context.Context) error {
	ctx, info := withCall(ctx)
	res, err := c.adm.Ping(ctx)
	switch {
	case err != nil && info.status == 0:
		return unreachable(err)
	case info.status == http.StatusUnauthorized || info.status == http.StatusForbidden:
		return fmt.Errorf("Cloudinary rejected the credentials for cloud %q (HTTP %d): check the API key and secret", c.cloud, info.status)
	case info.status == http.StatusNotFound:
		return fmt.Errorf("Cloudinary does not know cloud %q (HTTP 404): check the cloud name", c.cloud)
	case info.status >= 400 || err != nil:
		return fmt.Errorf("Cloudinary ping failed (HTTP %d): %s", info.status, apiMessage(res.Error.Message, err))
	case res.Status != "ok":
		return fmt.Errorf("Cloudinary ping answered %q instead of ok", res.Status)
	}
	return nil
}

func unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the URL itself is not secret, but the host is all a person needs
		return fmt.Errorf("Cloudinary is unreachable (%s): %v", hostOf(ue.URL), err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("Cloudinary is unreachable: %v", err)
	}
	return fmt.Errorf("Cloudinary is unreachable: %v", err)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

func apiMessage(msg string, err error) string {
	if msg != "" {
		return msg
	}
	if err != nil {
		return strings.TrimSpace(err.Error())
	}
	return "no message"
}

// statusTransport records each response's status and Retry-After into the call's context, because
// cloudinary-go hands only the body back to its callers.
type statusTransport struct{ base http.RoundTripper }

type callInfo struct {
	status     int
	retryAfter string
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{}
	return context.WithValue(ctx, callKey{}, ci), ci
}

func (t *statusTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if ci, ok := req.Context().Value(callKey{}).(*callInfo); ok && resp != nil {
		ci.status, ci.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	return resp, err
}
