package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// server is pisbackup started through run("serve") on :0, exactly as `make run` starts it.
type server struct {
	url string
	env map[string]string
}

var servingLine = regexp.MustCompile(`serving on (http://localhost:\d+)`)

func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	return startServerLogging(t, env, io.Discard)
}

// startServerLogging is startServer with the server's log (its stderr) written to logw.
func startServerLogging(t *testing.T, env map[string]string, logw io.Writer) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] },
			strings.NewReader(""), pw, logw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("server did not stop within 30 s")
		}
	})
	lines := bufio.NewScanner(pr)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := servingLine.FindStringSubmatch(lines.Text()); m != nil {
				urlc <- strings.Replace(m[1], "localhost", "127.0.0.1", 1)
			}
		}
	}()
	select {
	case u := <-urlc:
		return &server{url: u, env: env}
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within 60 s")
	}
	return nil
}

// browser is a headless Debian Chromium driven by chromedp; the test is skipped only when Chromium is absent
// (.ci/run installs it, so CI always runs these).
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run must install it")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	// The first Do starts the browser and must not carry a timeout (it would bound the browser's life).
	require.NoError(t, chromedp.Do(ctx))
	tctx, cancelC := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	return tctx
}

// jsDialogs answers the page's JavaScript dialogs (window.confirm) as a person clicks OK or Cancel, with the
// answer the test gave for the click that raises it, and keeps what each one asked. A dialog nobody expected
// is dismissed and fails the test.
type jsDialogs struct {
	answers chan bool
	asked   chan string
	mu      sync.Mutex
	stray   []string
}

// answerDialogs starts answering the dialogs of ctx's tab; it stops with the browser.
func answerDialogs(t *testing.T, ctx context.Context) *jsDialogs {
	t.Helper()
	d := &jsDialogs{answers: make(chan bool, 4), asked: make(chan string, 4)}
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			accept, expected := false, true
			select {
			case accept = <-d.answers:
			default:
				expected = false
			}
			if expected {
				d.asked <- ev.Message
			} else {
				d.mu.Lock()
				d.stray = append(d.stray, ev.Message)
				d.mu.Unlock()
			}
			// Answered from its own goroutine: the click that raised the dialog waits for the answer.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept})
			}()
		}
	}()
	t.Cleanup(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.stray) > 0 {
			t.Errorf("dialogs nobody expected (dismissed): %q", d.stray)
		}
	})
	return d
}

// click clicks sel, answers the confirmation it raises (accept: OK, else Cancel) and returns its question. It
// fails the test when the click asks nothing.
func (d *jsDialogs) click(t *testing.T, ctx context.Context, sel string, accept bool) string {
	t.Helper()
	d.answers <- accept
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))))
	select {
	case m := <-d.asked:
		return m
	case <-time.After(10 * time.Second):
		<-d.answers
		t.Fatalf("clicking %s asked nothing: it must ask before it acts", sel)
		return ""
	}
}

// catalogValue reads one value from the server's catalog (DATABASE_URL), to check what a click did or did
// not change behind the page.
func catalogValue[T any](t *testing.T, env map[string]string, sql string, args ...any) T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, env["DATABASE_URL"])
	require.NoError(t, err)
	defer conn.Close(ctx)
	var v T
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&v), sql)
	return v
}
