// Package pgclient answers one question for every part of pisbackup: which installed pg_dump or pg_restore
// to run against a given PostgreSQL server.
//
// pg_dump refuses servers newer than itself ("aborting because of server version mismatch") and dumps every
// older server it supports, and pg_restore reads archives only up to its own version; so the rule is the
// newest installed client, provided its major version is at least the server's. Dump, drill, restore,
// upload checks and preflight all ask a Finder; none picks a binary on its own.
package pgclient

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/uscpis/pisbackup/internal/dbconn"
)

// DefaultRoot is where Debian and Ubuntu install each client major: /usr/lib/postgresql/<major>/bin.
const DefaultRoot = "/usr/lib/postgresql"

// Finder says where clients may be installed. The zero value searches nothing; config builds the real one.
type Finder struct {
	// BinDir is PG_BIN_DIR: when set, only this directory is used, whatever else is installed.
	BinDir string
	// Roots are searched in order for <root>/<major>/bin/<program> (PG_CLIENT_SEARCH_ROOT, DefaultRoot).
	Roots []string
	// Path is a PATH-style list searched after Roots.
	Path string
}

// Client is one installed program and the version it reports.
type Client struct {
	Program string `json:"program"` // "pg_dump" or "pg_restore"
	Path    string `json:"path"`
	Version string `json:"version"` // as --version printed it, e.g. "17.2"
	// From says where it was found: "PG_BIN_DIR", a search root, or "PATH".
	From string `json:"from"`
	num  int
}

// Major is the client's major version: "17", or "9.6" before PostgreSQL 10.
func (c Client) Major() string { return majorOf(c.num) }

func (c Client) String() string { return fmt.Sprintf("%s %s (%s)", c.Program, c.Version, c.Path) }

// Choice is a client picked for a server, with what a person needs to judge it.
type Choice struct {
	Client
	Server string `json:"server_version"` // the server's server_version, e.g. "16.4"
	// Found is every installed copy of the program, newest first (the chosen one included).
	Found []Client `json:"found"`
}

// NotFoundError means the program is not installed where the Finder looks.
type NotFoundError struct {
	Program string
	Where   string // what was searched, for the message
}

func (e *NotFoundError) Error() string { return e.Problem() + "; " + e.Fix() }

// Problem is what is wrong, without the remedy.
func (e *NotFoundError) Problem() string {
	return fmt.Sprintf("%s not found (searched %s)", e.Program, e.Where)
}

// Fix is what to do about it.
func (e *NotFoundError) Fix() string {
	return "install postgresql-client-<major> matching your server (see README, \"PostgreSQL client\"), or set PG_BIN_DIR"
}

// MismatchError means every installed client is older than the server: pg_dump would abort with "server
// version mismatch", pg_restore would meet syntax and archive versions it does not know.
type MismatchError struct {
	Program string
	Server  string   // server_version, e.g. "17.2"
	Found   []Client // newest first
	BinDir  string   // set when PG_BIN_DIR pinned the choice
}

func (e *MismatchError) Error() string { return e.Problem() + "; " + e.Fix() }

// Need is the major version the server requires of a client: "16", or "9.6" before PostgreSQL 10.
func (e *MismatchError) Need() string { return majorOf(majorNum(parseNum(e.Server))) }

// Problem names the server's major and every client found.
func (e *MismatchError) Problem() string {
	found := make([]string, len(e.Found))
	for i, c := range e.Found {
		found[i] = c.Version + " (" + c.Path + ")"
	}
	if e.BinDir != "" {
		return fmt.Sprintf("%s in PG_BIN_DIR is %s, older than the server's PostgreSQL %s (server %s)",
			e.Program, strings.Join(found, ", "), e.Need(), e.Server)
	}
	return fmt.Sprintf("no %s for PostgreSQL %s: the server runs %s and the clients found are %s",
		e.Program, e.Need(), e.Server, strings.Join(found, ", "))
}

// Fix says what to install or set.
func (e *MismatchError) Fix() string {
	if e.BinDir != "" {
		return fmt.Sprintf("point PG_BIN_DIR at a %s %s or newer (postgresql-client-%s), or unset it to use the newest installed client",
			e.Program, e.Need(), e.Need())
	}
	return fmt.Sprintf("install postgresql-client-%s or newer (see README, \"PostgreSQL client\"), or set PG_BIN_DIR to its bin directory", e.Need())
}

// Newest returns the newest installed copy of program, for work that talks to no server (pg_restore --list).
func (f Finder) Newest(ctx context.Context, program string) (Client, error) {
	found, err := f.Candidates(ctx, program)
	if err != nil {
		return Client{}, err
	}
	return found[0], nil
}

// For picks the newest installed program whose major version is at least serverVersion's (PostgreSQL's
// server_version setting, e.g. "16.4 (Ubuntu 16.4-1)"). It returns *NotFoundError or *MismatchError.
func (f Finder) For(ctx context.Context, program, serverVersion string) (Choice, error) {
	found, err := f.Candidates(ctx, program)
	if err != nil {
		return Choice{Server: serverVersion}, err
	}
	server := parseNum(serverVersion)
	if server == 0 {
		return Choice{Server: serverVersion, Found: found}, fmt.Errorf("cannot read the server's version from %q", serverVersion)
	}
	best := found[0]
	if majorNum(best.num) < majorNum(server) {
		return Choice{Server: serverVersion, Found: found},
			&MismatchError{Program: program, Server: serverVersion, Found: found, BinDir: f.BinDir}
	}
	return Choice{Client: best, Server: serverVersion, Found: found}, nil
}

// Candidates lists every installed copy of program that answers --version, newest first; among equal
// versions the search order wins (PG_BIN_DIR, then the roots in order, then PATH).
func (f Finder) Candidates(ctx context.Context, program string) ([]Client, error) {
	var paths []struct{ path, from string }
	add := func(p, from string) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			paths = append(paths, struct{ path, from string }{p, from})
		}
	}
	where := []string{}
	if f.BinDir != "" {
		add(filepath.Join(f.BinDir, program), "PG_BIN_DIR")
		where = append(where, "PG_BIN_DIR="+f.BinDir)
	} else {
		for _, root := range f.Roots {
			where = append(where, root+"/<major>/bin")
			entries, _ := os.ReadDir(root) // a missing root is normal (no apt buildpack, say)
			for _, e := range entries {
				if parseNum(e.Name()) > 0 {
					add(filepath.Join(root, e.Name(), "bin", program), root)
				}
			}
		}
		if f.Path != "" {
			where = append(where, "PATH")
			for _, dir := range filepath.SplitList(f.Path) {
				if dir != "" {
					add(filepath.Join(dir, program), "PATH")
				}
			}
		}
	}
	var out []Client
	seen := map[string]bool{}
	var lastErr error
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p.path)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		v, err := version(ctx, p.path)
		if err != nil {
			lastErr = err
			continue
		}
		out = append(out, Client{Program: program, Path: p.path, Version: v, From: p.from, num: parseNum(v)})
	}
	if len(out) == 0 {
		if len(where) == 0 {
			where = append(where, "nowhere: neither PG_BIN_DIR, a search root nor PATH is set")
		}
		nf := &NotFoundError{Program: program, Where: strings.Join(where, ", ")}
		if lastErr != nil {
			return nil, fmt.Errorf("%w (%v)", nf, lastErr)
		}
		return nil, nf
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].num > out[j].num })
	return out, nil
}

// version runs `program --version`, remembering the answer per file and modification time: the dashboard
// and health endpoint ask often, and a replaced binary changes its mtime.
func version(ctx context.Context, path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", path, st.ModTime().UnixNano(), st.Size())
	versionMu.Lock()
	v, ok := versionCache[key]
	versionMu.Unlock()
	if ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out []byte
	for try := 0; ; try++ {
		cmd := exec.CommandContext(ctx, path, "--version")
		cmd.Env = dbconn.BaseEnv(os.Environ()) // nothing of pisbackup's secrets, even to print a version
		out, err = cmd.Output()
		// ETXTBSY: the file was just written and a process forked meanwhile (by any goroutine) still holds a
		// writable copy of its descriptor until it execs; a moment later the program runs (Go's own os/exec
		// tests retry the same way). Seen with freshly installed clients and with the tests' fake layouts.
		if !errors.Is(err, syscall.ETXTBSY) || try == 20 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("%s --version printed no PostgreSQL version: %.80q", path, out)
	}
	versionMu.Lock()
	versionCache[key] = m[1]
	versionMu.Unlock()
	return m[1], nil
}

var (
	versionMu    sync.Mutex
	versionCache = map[string]string{}
	// "pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)"
	versionRE = regexp.MustCompile(`\(PostgreSQL\)\s+(\d+(?:\.\d+)*)`)
	numRE     = regexp.MustCompile(`^\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?`)
)

// parseNum turns a version into PostgreSQL's server_version_num form (17.2 → 170002, 9.6.24 → 90624); 0
// when it is not a version.
func parseNum(v string) int {
	m := numRE.FindStringSubmatch(v)
	if m == nil {
		return 0
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	if a >= 10 {
		return a*10000 + b
	}
	return a*10000 + b*100 + c
}

// majorNum drops the minor release: 170002 → 170000, 90624 → 90600.
func majorNum(n int) int {
	if n >= 100000 {
		return n / 10000 * 10000
	}
	return n / 100 * 100
}

func majorOf(n int) string {
	if n >= 100000 {
		return strconv.Itoa(n / 10000)
	}
	return fmt.Sprintf("%d.%d", n/10000, n/100%100)
}
