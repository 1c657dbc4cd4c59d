package preflight

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"

	"github.com/uscpis/pisbackup/internal/cloudinary"
	"github.com/uscpis/pisbackup/internal/crypt"
	"github.com/uscpis/pisbackup/internal/mail"
	"github.com/uscpis/pisbackup/internal/storage"
)

// storageCheck writes a probe object through the same path a backup takes (temporary object, commit), reads
// it back, compares, deletes it and makes sure it is gone.
func storageCheck(ctx context.Context, e Env) Check {
	const name, title = "storage", "Backup storage"
	const fix = "make BACKUP_STORAGE writable by this process (directory permissions and free space, or S3 credentials allowed to put, get and delete objects in the bucket)"
	st := e.Store
	if st == nil {
		var err error
		if st, err = storage.Open(ctx, e.Cfg.BackupStorage, e.Getenv); err != nil {
			return fail(name, title, err.Error(), "set BACKUP_STORAGE to file://DIR or s3://bucket/prefix")
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := "preflight-probe-" + hex.EncodeToString(b) // top level: the file backend leaves no empty folder behind
	payload := []byte("pisbackup preflight probe " + hex.EncodeToString(b) + "\n")
	step := func(what string, err error) Check {
		return fail(name, title, fmt.Sprintf("storage %s: %s failed: %v", st, what, err), fix)
	}
	w, err := st.Create(ctx, key)
	if err != nil {
		return step("creating the probe object", err)
	}
	if _, err := w.Write(payload); err != nil {
		_ = w.Abort()
		return step("writing the probe object", err)
	}
	if err := w.Commit(); err != nil {
		return step("publishing the probe object", err)
	}
	defer func() { _ = st.Delete(context.WithoutCancel(ctx), key) }()
	rc, err := st.Open(ctx, key)
	if err != nil {
		return step("reading the probe object back", err)
	}
	got, err := io.ReadAll(io.LimitReader(rc, 1<<10))
	rc.Close()
	if err != nil {
		return step("reading the probe object back", err)
	}
	if !bytes.Equal(got, payload) {
		return step("reading the probe object back", errors.New("it came back different from what was written"))
	}
	if err := st.Delete(ctx, key); err != nil {
		return step("deleting the probe object", err)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		return step("deleting the probe object", fmt.Errorf("it is still there (%v)", err))
	}
	return pass(name, title, fmt.Sprintf("%s: wrote, read back and deleted a probe object", st))
}

// ageCheck: the recipients parse, and a configured identity can open what is sealed to them (proved by
// sealing a probe and opening it, not by comparing strings).
func ageCheck(e Env) Check {
	const name, title = "age", "Encryption keys"
	c := e.Cfg
	if c.Unencrypted && len(c.AgeRecipients) == 0 && c.AgeIdentityFile == "" {
		ch := pass(name, title, "BACKUP_UNENCRYPTED=true: new backups are NOT encrypted")
		ch.Warn = true
		return ch
	}
	if len(c.AgeRecipients) == 0 && c.AgeIdentityFile == "" {
		if _, err := os.Stat(e.DevIdentity); err != nil {
			return fail(name, title, "no age recipient is configured",
				"set BACKUP_AGE_RECIPIENTS to the public key(s) (age1…) whose identity is kept offline")
		}
	}
	k, err := crypt.Load(c.AgeRecipients, c.AgeIdentityFile, e.DevIdentity)
	if err != nil {
		return fail(name, title, err.Error(), "fix BACKUP_AGE_RECIPIENTS / BACKUP_AGE_IDENTITY_FILE")
	}
	if len(k.Identities) == 0 {
		return pass(name, title, fmt.Sprintf("%d recipient(s), fingerprint %s; no identity here, so drills and restores cannot decrypt on this machine",
			len(k.Recipients), k.Fingerprint()))
	}
	var sealed bytes.Buffer
	w, err := age.Encrypt(&sealed, k.Recipients...)
	if err == nil {
		_, _ = w.Write([]byte("probe"))
		err = w.Close()
	}
	if err != nil {
		return fail(name, title, "cannot seal to the recipients: "+err.Error(), "fix BACKUP_AGE_RECIPIENTS")
	}
	if _, err := age.Decrypt(&sealed, k.Identities...); err != nil {
		return fail(name, title,
			fmt.Sprintf("the identity in %s matches none of the %d recipient(s) (fingerprint %s), so drills and restores could not decrypt new backups",
				k.IdentityFile, len(k.Recipients), k.Fingerprint()),
			"point BACKUP_AGE_IDENTITY_FILE at the identity whose public key (age-keygen -y FILE) is in BACKUP_AGE_RECIPIENTS, or add that key to BACKUP_AGE_RECIPIENTS")
	}
	ch := pass(name, title, fmt.Sprintf("%d recipient(s), fingerprint %s; the identity opens what is sealed to them", len(k.Recipients), k.Fingerprint()))
	if c.Unencrypted {
		ch.Warn, ch.Detail = true, "BACKUP_UNENCRYPTED=true: new backups are NOT encrypted; "+ch.Detail
	}
	return ch
}

// sendgridCheck asks SendGrid whether the key is accepted and may send mail; nothing is sent.
func sendgridCheck(ctx context.Context, e Env) Check {
	const name, title = "sendgrid", "SendGrid"
	if !e.Cfg.EmailConfigured() {
		return skip(name, title, "not configured: alert e-mail goes to the outbox page")
	}
	if err := mail.NewClient(e.Cfg).CheckKey(ctx); err != nil {
		return fail(name, title, err.Error(),
			"create a SendGrid API key with the Mail Send permission and set SENDGRID_API_KEY (or EMAIL_HOST_PASSWORD) to it")
	}
	return pass(name, title, "the API key is accepted and may send mail")
}

// cloudinaryCheck calls Cloudinary's Admin API ping with the configured credentials.
func cloudinaryCheck(ctx context.Context, e Env) Check {
	const name, title = "cloudinary", "Cloudinary"
	if !e.Cfg.CloudinaryConfigured() {
		return skip(name, title, "not configured: set CLOUDINARY_URL to move media off the dyno's disk")
	}
	c, err := cloudinary.New(e.Cfg.CloudinaryURL)
	if err == nil {
		err = c.Ping(ctx)
	}
	if err != nil {
		return fail(name, title, err.Error(), "check CLOUDINARY_URL (cloudinary://API_KEY:API_SECRET@CLOUD_NAME) against the Cloudinary console")
	}
	return pass(name, title, fmt.Sprintf("cloud %q accepted the credentials", c.CloudName()))
}
