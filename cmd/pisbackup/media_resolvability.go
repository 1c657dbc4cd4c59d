package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uscpis/pisbackup/internal/mediamigration"
	"github.com/uscpis/pisbackup/jobs"
)

func init() {
	register("media-resolvability", "per FileField column: stored values the app could not find in Cloudinary", cmdMediaResolvability)
}

// cmdMediaResolvability prints the per-column report; exit 1 while any value does not resolve (so a script
// can gate on it), 0 when all resolve or will once migrated.
func cmdMediaResolvability(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "media-resolvability", "[--json]")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	a, d, err := loadDeps(ctx, e)
	if err != nil {
		return err
	}
	defer a.close()
	rep, _, err := jobs.MediaResolvability(ctx, d.Cfg, d.Q)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printResolvability(e, rep)
	}
	if !rep.OK() {
		return silentExit(1)
	}
	return nil
}

func printResolvability(e *env, rep *mediamigration.Resolvability) {
	prefix := rep.Prefix
	if prefix == "" {
		prefix = "(none)"
	}
	fmt.Fprintf(e.stdout, "Cloudinary naming: prefix %s, tag %s (must match the app's CLOUDINARY_STORAGE)\n", prefix, rep.Tag)
	for _, c := range rep.Columns {
		if c.Missing {
			fmt.Fprintf(e.stdout, "%-46s %-5s  NO SUCH COLUMN in the clinic database: fix MEDIA_REFERENCE_COLUMNS\n", c.Column, c.ResourceType)
			continue
		}
		fmt.Fprintf(e.stdout, "%-46s %-5s  %d values: %d in Cloudinary, %d to upload, %d unresolved\n",
			c.Column, c.ResourceType, c.Values, c.InCloudinary, c.Pending, c.UnresolvedCount)
		for _, u := range c.Unresolved {
			fmt.Fprintf(e.stdout, "    %q -> %s\n      %s; %s\n", u.Value, u.URL, u.Reason, u.Fix)
		}
		if more := c.UnresolvedCount - len(c.Unresolved); more > 0 {
			fmt.Fprintf(e.stdout, "    ... and %d more (see --json or /api/v1/media/resolvability)\n", more)
		}
	}
	fmt.Fprintln(e.stdout, rep.Summary())
}
