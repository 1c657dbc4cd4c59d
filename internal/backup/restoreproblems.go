package backup

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// RestoreProblem is one error pg_restore reported and then continued past (pisbackup runs it without
// --exit-on-error, as the stock recipe does, so one failed object does not cost every other one).
type RestoreProblem struct {
	// Entry is the archive's TOC entry ("3362; 0 109486 MATERIALIZED VIEW DATA patient_stats postgres"), as
	// pg_restore names it on stderr ("from TOC entry …"); empty when it named none.
	Entry string `json:"entry,omitempty"`
	// Type is the entry's type as pg_restore prints it: "TABLE DATA", "POLICY", "ACL", "MATERIALIZED VIEW DATA"….
	Type string `json:"type,omitempty"`
	// Object is the entry's name (schema-qualified where pg_restore's verbose line gave it).
	Object string `json:"object,omitempty"`
	// Message is pg_restore's error text (the server's ERROR line and the command it ran), trimmed.
	Message string `json:"message"`
	// DataLost is true when rows or values of the backup did not arrive: a table or its data, a sequence
	// value, a large object, or an error pg_restore did not attribute to any entry (counted as lost so a
	// report never claims more than it proved). Everything else is an object not created (a policy, a
	// grant, an index, an unpopulated materialized view): the data is there, the object must be recreated.
	DataLost bool `json:"data_lost"`
}

// Kind is "data lost" or "object not created".
func (p RestoreProblem) Kind() string {
	if p.DataLost {
		return "data lost"
	}
	return "object not created"
}

func (p RestoreProblem) String() string {
	what := strings.TrimSpace(p.Type + " " + p.Object)
	if what == "" {
		what = "(no archive entry named)"
	}
	return fmt.Sprintf("%s: %s: %s", p.Kind(), what, p.Message)
}

// RestoreProblems summarises every problem of one restore.
type RestoreProblems struct {
	List []RestoreProblem `json:"problems,omitempty"`
	// Ignored is pg_restore's own count ("errors ignored on restore: N"); it may exceed len(List) when the
	// list was capped.
	Ignored  int `json:"errors_ignored,omitempty"`
	DataLost int `json:"data_lost,omitempty"`
}

// Count is the number of problems: pg_restore's count when it gave one, else the collected list's.
func (r RestoreProblems) Count() int { return max(r.Ignored, len(r.List)) }

// Summary is "restored with N problems (M lose data)", or "" when there were none.
func (r RestoreProblems) Summary() string {
	if r.Count() == 0 {
		return ""
	}
	return fmt.Sprintf("restored with %d problems (%d lose data, %d objects not created)", r.Count(), r.DataLost, r.Count()-r.DataLost)
}

const maxRestoreProblems = 500

var (
	tocEntryRe = regexp.MustCompile(`^pg_restore: from TOC entry (\d+; \d+ \d+ (.*))$`)
	verboseRe  = regexp.MustCompile(`^pg_restore: (?:creating|processing|executing) (.+?) "(.*)"$`)
	dataRe     = regexp.MustCompile(`^pg_restore: processing data for table "(.*)"$`)
	ignoredRe  = regexp.MustCompile(`^pg_restore: warning: errors ignored on restore: (\d+)$`)
	// unquotedRe is a verbose line naming its entry without quotes: "executing BLOB 59406", "processing BLOBS".
	unquotedRe = regexp.MustCompile(`^pg_restore: (?:executing|processing) ([A-Z][A-Z ]*[A-Z])(?: (\d+))?$`)
)

// problemTypes are the TOC entry types whose failure loses data; the list is pg_dump's own descriptors.
var dataTypes = []string{"TABLE DATA", "TABLE", "SEQUENCE SET", "BLOB", "BLOBS", "BLOB DATA", "LARGE OBJECT", "SCHEMA", "SEQUENCE"}

// problemCollector parses pg_restore --verbose stderr line by line, attributing each "error:" to the entry
// pg_restore was working on. It is an io.Writer for cmd.Stderr.
type problemCollector struct {
	mu      sync.Mutex
	pw      *io.PipeWriter
	done    chan struct{}
	res     RestoreProblems
	entry   string // last "from TOC entry" text
	typ     string
	object  string
	current *RestoreProblem
	extra   int
}

func newProblemCollector() *problemCollector {
	pr, pw := io.Pipe()
	c := &problemCollector{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.line(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return c
}

func (c *problemCollector) Write(b []byte) (int, error) { return c.pw.Write(b) }

// finish waits for the parser and returns what it found.
func (c *problemCollector) finish() RestoreProblems {
	_ = c.pw.Close()
	<-c.done
	c.flush()
	if parsed := len(c.res.List) + c.extra; c.res.Ignored > parsed {
		// pg_restore counted errors this parser could not attribute: count them as lost data, never as fine.
		c.res.DataLost += c.res.Ignored - parsed
	}
	return c.res
}

func (c *problemCollector) line(l string) {
	switch {
	case strings.HasPrefix(l, "pg_restore: error: "):
		c.flush()
		c.current = &RestoreProblem{Entry: c.entry, Type: c.typ, Object: c.object, Message: strings.TrimPrefix(l, "pg_restore: error: ")}
	case ignoredRe.MatchString(l):
		c.flush()
		c.res.Ignored, _ = strconv.Atoi(ignoredRe.FindStringSubmatch(l)[1])
	case tocEntryRe.MatchString(l):
		c.flush()
		m := tocEntryRe.FindStringSubmatch(l)
		c.entry = m[1]
		for _, t := range append(append([]string{}, dataTypes...), "MATERIALIZED VIEW DATA", "MATERIALIZED VIEW", "POLICY", "ACL", "DEFAULT ACL",
			"CONSTRAINT", "FK CONSTRAINT", "INDEX", "TRIGGER", "FUNCTION", "VIEW", "RULE", "EXTENSION", "COMMENT", "TYPE", "DOMAIN") {
			if strings.HasPrefix(m[2], t+" ") && len(t) >= len(c.typ) {
				c.typ = t
			}
		}
	case dataRe.MatchString(l):
		c.flush()
		c.entry, c.typ, c.object = "", "TABLE DATA", dataRe.FindStringSubmatch(l)[1]
	case verboseRe.MatchString(l):
		c.flush()
		m := verboseRe.FindStringSubmatch(l)
		c.entry, c.typ, c.object = "", m[1], m[2]
	case unquotedRe.MatchString(l):
		c.flush()
		m := unquotedRe.FindStringSubmatch(l)
		c.entry, c.typ, c.object = "", m[1], m[2]
	case strings.HasPrefix(l, "pg_restore: "):
		c.flush()
	case c.current != nil && strings.TrimSpace(l) != "":
		if strings.HasPrefix(l, "Command was:") || strings.HasPrefix(l, "DETAIL:") || strings.HasPrefix(l, "CONTEXT:") {
			c.current.Message += "; " + strings.TrimSpace(l)
		}
	}
}

func (c *problemCollector) flush() {
	p := c.current
	if p == nil {
		return
	}
	c.current = nil
	if len(p.Message) > 600 {
		p.Message = p.Message[:600] + "…"
	}
	p.DataLost = p.Type == "" || strings.Contains(p.Message, "COPY failed")
	for _, t := range dataTypes {
		if p.Type == t {
			p.DataLost = true
		}
	}
	if p.DataLost {
		c.res.DataLost++
	}
	if len(c.res.List) < maxRestoreProblems {
		c.res.List = append(c.res.List, *p)
	} else {
		c.extra++
	}
}
