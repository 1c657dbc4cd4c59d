// Package crypt owns backup encryption: age X25519 recipients to seal, the identity file to open, and the
// development key pair created on first run.
package crypt

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"filippo.io/age"
)

// Keys is what the pipeline needs: who can decrypt (recipients) and, when present, how we decrypt (identities).
type Keys struct {
	Recipients   []age.Recipient
	Public       []string // the recipients as age1... strings, for manifests and the dashboard
	Identities   []age.Identity
	IdentityFile string
	// Generated is set when this run created a development key pair; callers say so loudly.
	Generated bool
}

// Fingerprint identifies the recipient set without revealing anything: the first 16 hex digits of the SHA-256
// of the sorted recipient strings. Manifests carry it so an operator can tell which key a backup needs.
func (k *Keys) Fingerprint() string { return Fingerprint(k.Public) }

// Fingerprint of a recipient list; empty for none (an unencrypted backup).
func Fingerprint(public []string) string {
	if len(public) == 0 {
		return ""
	}
	s := append([]string(nil), public...)
	sort.Strings(s)
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:8])
}

// Load resolves the keys from configuration. With no recipients configured it falls back to the identity
// file's own recipient, and when even that file is missing it generates a development key pair at devPath.
func Load(recipients []string, identityFile, devPath string) (*Keys, error) {
	k := &Keys{IdentityFile: identityFile}
	if identityFile == "" {
		k.IdentityFile = devPath
		if _, err := os.Stat(devPath); errors.Is(err, os.ErrNotExist) && len(recipients) == 0 {
			if err := generate(devPath); err != nil {
				return nil, err
			}
			k.Generated = true
		}
	}
	if b, err := os.ReadFile(k.IdentityFile); err == nil {
		ids, err := age.ParseIdentities(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("BACKUP_AGE_IDENTITY_FILE %s: %w", k.IdentityFile, err)
		}
		k.Identities = ids
		if len(recipients) == 0 {
			for _, id := range ids {
				if x, ok := id.(*age.X25519Identity); ok {
					recipients = append(recipients, x.Recipient().String())
				}
			}
		}
	} else if identityFile != "" {
		return nil, fmt.Errorf("BACKUP_AGE_IDENTITY_FILE: cannot read %s: %w", identityFile, err)
	}
	for _, r := range recipients {
		rec, err := age.ParseX25519Recipient(r)
		if err != nil {
			return nil, fmt.Errorf("BACKUP_AGE_RECIPIENTS: %q: %w", r, err)
		}
		k.Recipients = append(k.Recipients, rec)
		k.Public = append(k.Public, r)
	}
	if len(k.Recipients) == 0 {
		return nil, errors.New("BACKUP_AGE_RECIPIENTS: no age recipient configured and no identity file to derive one from")
	}
	return k, nil
}

// generate writes a new X25519 identity in age's own key-file format (readable by `age -d -i`), mode 0600.
func generate(path string) error {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key directory: %w", err)
	}
	body := fmt.Sprintf("# created by pisbackup for development\n# public key: %s\n%s\n", id.Recipient(), id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
