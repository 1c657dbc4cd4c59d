package backup

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"filippo.io/age"
)

// sealedSpool is an upload kept on local disk only as age ciphertext to a key that lives in this process's
// memory, for readers that need random access (archive/zip reads the central directory at the end first).
// age's STREAM format decrypts any 64 KiB chunk on its own (age.DecryptReaderAt), so nothing is decrypted to disk,
// and nobody else can read the file even while it exists.
type sealedSpool struct {
	f      *os.File
	ra     io.ReaderAt
	size   int64  // plaintext bytes
	sha256 string // of the plaintext, as uploaded
}

// spoolSealed copies r into a sealed spool in dir (os.TempDir when empty). A read error is the upload's
// (ErrTooLarge included); a write error is the server's.
func spoolSealed(r io.Reader, dir string) (*sealedSpool, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "pisbackup-upload-*.age")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp := &sealedSpool{f: f}
	bw := bufio.NewWriterSize(f, 1<<20)
	enc, err := age.Encrypt(bw, id.Recipient())
	if err != nil {
		sp.Close()
		return nil, err
	}
	h := sha256.New()
	src := &readErrs{r: r}
	_, err = io.Copy(io.MultiWriter(enc, h), src)
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	var st os.FileInfo
	if err == nil {
		st, err = f.Stat()
	}
	if err == nil {
		sp.ra, sp.size, err = age.DecryptReaderAt(f, st.Size(), id)
	}
	if err != nil {
		sp.Close()
		if src.err != nil {
			return nil, uploadErr(src.err)
		}
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	sp.sha256 = hex.EncodeToString(h.Sum(nil))
	return sp, nil
}

// Close removes the spool file.
func (s *sealedSpool) Close() {
	_ = s.f.Close()
	_ = os.Remove(s.f.Name())
}

// readErrs remembers the source's own read error, to tell it from a write error after io.Copy.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// errZipDirectory stops archive/zip when the central directory passes legacyZipMaxDirectory.
var errZipDirectory = errors.New("central directory too large")

// openLegacyZip reads the zip's central directory within legacyZipMaxDirectory and LegacyZipMaxEntries.
func openLegacyZip(sp *sealedSpool) (*zip.Reader, error) {
	if n := zipDeclaredEntries(sp.ra, sp.size); n > LegacyZipMaxEntries {
		return nil, uploadInvalid("the zip declares %d entries; a legacy full backup may hold at most %d", n, LegacyZipMaxEntries)
	}
	b := &budgetReaderAt{ra: sp.ra, left: legacyZipMaxDirectory + 128<<10} // + the end records' search
	zr, err := zip.NewReader(b, sp.size)
	b.left = -1 // entries are read through the same ReaderAt, unbudgeted: their sizes are checked instead
	switch {
	case errors.Is(err, errZipDirectory):
		return nil, uploadInvalid("the zip's central directory passes %d MiB: more entries than a legacy full backup holds (at most %d)", legacyZipMaxDirectory>>20, LegacyZipMaxEntries)
	case err != nil && !errors.Is(err, zip.ErrInsecurePath): // GODEBUG=zipinsecurepath=0; planFullZip names the entry
		return nil, uploadInvalid("not a readable zip file (truncated or damaged?): %v", err)
	case len(zr.File) > LegacyZipMaxEntries:
		return nil, uploadInvalid("the zip has %d entries; a legacy full backup may hold at most %d", len(zr.File), LegacyZipMaxEntries)
	}
	return zr, nil
}

// zipDeclaredEntries reads the entry count from the end of central directory record (or its zip64 twin),
// found the way archive/zip finds it. archive/zip allocates room for that many entries before reading one, so a
// zip64 record claiming 70 million costs half a gigabyte up front. 0 when there is no such record: zip.NewReader
// then refuses the file itself.
func zipDeclaredEntries(ra io.ReaderAt, size int64) uint64 {
	const endLen, locLen, end64Len = 22, 20, 56
	n := min(size, 65*1024)
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0
	}
	i := len(buf) - endLen
	for ; i >= 0; i-- {
		if buf[i] == 'P' && buf[i+1] == 'K' && buf[i+2] == 5 && buf[i+3] == 6 {
			break
		}
	}
	if i < 0 || i+endLen+int(binary.LittleEndian.Uint16(buf[i+20:])) > len(buf) {
		return 0
	}
	records := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	at := size - n + int64(i)
	if records != 0xffff && binary.LittleEndian.Uint32(buf[i+12:]) != 0xffff && binary.LittleEndian.Uint32(buf[i+16:]) != 0xffffffff {
		return records
	}
	loc := make([]byte, locLen)
	if at < locLen {
		return records
	}
	if _, err := ra.ReadAt(loc, at-locLen); err != nil || string(loc[:4]) != "PK\x06\x07" ||
		binary.LittleEndian.Uint32(loc[4:]) != 0 || binary.LittleEndian.Uint32(loc[16:]) != 1 {
		return records
	}
	end64 := make([]byte, end64Len)
	off := binary.LittleEndian.Uint64(loc[8:])
	if off > uint64(size) {
		return records
	}
	if _, err := ra.ReadAt(end64, int64(off)); err != nil || string(end64[:4]) != "PK\x06\x06" {
		return records
	}
	return binary.LittleEndian.Uint64(end64[32:])
}

// budgetReaderAt fails reads once left bytes were read; left < 0 means no budget.
type budgetReaderAt struct {
	ra   io.ReaderAt
	left int64
}

func (b *budgetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if b.left >= 0 {
		if int64(len(p)) > b.left {
			return 0, errZipDirectory
		}
		b.left -= int64(len(p))
	}
	return b.ra.ReadAt(p, off)
}
