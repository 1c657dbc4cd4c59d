package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/config"
)

func init() {
	register("test-cloudinary", "check the Cloudinary credentials with the Admin API ping", cmdTestCloudinary)
}

// cmdTestCloudinary needs only the environment: it is what an operator runs right after setting the keys.
func cmdTestCloudinary(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "test-cloudinary", "")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	c, err := cloudinary.New(cfg.CloudinaryURL)
	if errors.Is(err, cloudinary.ErrNotConfigured) {
		fmt.Fprintln(e.stderr, err)
		return silentExit(1)
	} else if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		fmt.Fprintln(e.stderr, err)
		return silentExit(1)
	}
	fmt.Fprintf(e.stdout, "Cloudinary OK: cloud %q answered the Admin API ping with these credentials\n", c.CloudName())
	return nil
}
