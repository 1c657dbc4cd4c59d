package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// verifyGroup: checksum verification speed against sha256sum on the same stored object, and a drill against
// a raw pg_restore of the same dump into a new database.
func (b *bench) verifyGroup(ctx context.Context) error {
	var id int64
	var key string
	var size int64
	err := b.cat.QueryRow(ctx, `SELECT id, storage_key, bytes_stored FROM backups
		WHERE kind = 'database' AND status IN ('succeeded', 'warning') ORDER BY id DESC LIMIT 1`).Scan(&id, &key, &size)
	if err != nil {
		if _, err := b.pis(ctx, "create-backup", "--type", "database"); err != nil {
			return err
		}
		return b.verifyGroup(ctx)
	}
	work, _ := filepath.Abs(b.o.workdir)
	file := filepath.Join(work, "storage", key)
	plain := filepath.Join(work, "plain.dump")
	if _, _, err := b.timed(ctx, fmt.Sprintf("pg_dump -h %s -U postgres -Fc -Z0 %s > %s", pgSocket, b.srcName, plain)); err != nil {
		return err
	}
	defer os.Remove(plain)
	var ours, sha, drill, raw, recovery []float64
	for i := 0; i < b.o.runs; i++ {
		w, _, err := b.timed(ctx, "sha256sum "+file+" > /dev/null")
		if err != nil {
			return err
		}
		sha = append(sha, w)
		d, err := b.verification(ctx, id, "checksum")
		if err != nil {
			return err
		}
		ours = append(ours, d)
		if d, err = b.verification(ctx, id, "drill"); err != nil {
			return err
		}
		drill = append(drill, d)
		db := fmt.Sprintf("pisbench_raw_restore_%d", os.Getpid())
		admin := fmt.Sprintf("-h %s -U postgres", pgSocket)
		w, _, err = b.timed(ctx, fmt.Sprintf("dropdb --if-exists %[1]s %[2]s && createdb %[1]s %[2]s && pg_restore %[1]s --no-owner --no-acl -d %[2]s %[3]s; rc=$?; dropdb %[1]s %[2]s; exit $rc", admin, db, plain))
		if err != nil {
			return err
		}
		raw = append(raw, w)
		// Issue 21: bringing back one patient with everything linked to it (restore only those tables into a
		// scratch database and compare) against the drill of the same backup: target <= 0.3.
		if w, _, err = b.timed(ctx, fmt.Sprintf("%s recover --backup %d --table patients_patient --key id=1 --with-related --dry-run --json > /dev/null", b.o.bin, id)); err != nil {
			return err
		}
		recovery = append(recovery, w)
	}
	mb := float64(size) / (1 << 20)
	oursSpeed, shaSpeed := mb/median(ours), mb/median(sha)
	b.add(result{Name: "checksum verification speed vs sha256sum", Value: oursSpeed, Unit: "MiB/s",
		Baseline: fmt.Sprintf("%.0f MiB/s", shaSpeed), Ratio: oursSpeed / shaSpeed, Target: ">= 0.8"}, func(r float64) bool { return r >= 0.8 })
	b.add(result{Name: "drill time vs raw pg_restore into a new database", Value: median(drill), Unit: "s",
		Baseline: fmt.Sprintf("%.2f s", median(raw)), Ratio: median(drill) / median(raw), Target: "<= 1.15"}, func(r float64) bool { return r <= 1.15 })
	b.add(result{Name: "record recovery (one patient, --with-related, dry run) vs a drill of the same backup", Value: median(recovery), Unit: "s",
		Baseline: fmt.Sprintf("%.2f s", median(drill)), Ratio: median(recovery) / median(drill), Target: "<= 0.3"}, func(r float64) bool { return r <= 0.3 })
	return nil
}

// verification runs verify-backup and returns the job's own duration from its row, so process start-up of the
// CLI is not counted against the verification.
func (b *bench) verification(ctx context.Context, id int64, level string) (float64, error) {
	if _, err := b.pis(ctx, "verify-backup", strconv.FormatInt(id, 10), "--level", level); err != nil {
		return 0, err
	}
	var ms int64
	var status string
	err := b.cat.QueryRow(ctx, `SELECT status, COALESCE(duration_ms, 0) FROM verifications
		WHERE backup_id = $1 AND level = $2 ORDER BY id DESC LIMIT 1`, id, level).Scan(&status, &ms)
	if err != nil {
		return 0, err
	}
	if status != "succeeded" {
		return 0, fmt.Errorf("%s verification of backup %d ended %s", level, id, status)
	}
	return (time.Duration(ms) * time.Millisecond).Seconds(), nil
}
