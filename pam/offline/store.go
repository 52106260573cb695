package offline

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"log/syslog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// DefaultDir is where the records of online logons are kept.
const DefaultDir = "/var/lib/sclogon/offline"

// DefaultMaxStatusAge is how old a recorded revocation status may be
// (counted from the OCSP response's thisUpdate) for an offline logon.
const DefaultMaxStatusAge = 24 * time.Hour

// Options configure a [Store]; the zero value is the production one.
type Options struct {
	// Owner is the uid that must own the directory and every record
	// (default 0, root). Tests that do not run as root set their own.
	Owner int
	// MaxStatusAge bounds the age of the recorded revocation status
	// (default [DefaultMaxStatusAge]).
	MaxStatusAge time.Duration
	// Audit receives one record per offline logon attempt (default: JSON
	// lines to syslog, LOG_AUTHPRIV, else to stderr).
	Audit *slog.Logger
	// Rand makes the challenge the card signs (default crypto/rand).
	Rand io.Reader
}

// Store is a directory of records, one file per user, that only its owner
// (root) may write. Every read checks that the directory and the file are
// the owner's and that nobody else may write them, so that a local user
// cannot plant a record.
type Store struct {
	dir   string
	owner int
	age   time.Duration
	rand  io.Reader

	auditOnce sync.Once
	audit     *slog.Logger // see logger
}

// Open returns the store in dir (default [DefaultDir]). The directory need
// not exist yet: [Record] creates it, mode 0700.
func Open(dir string, o Options) *Store {
	if dir == "" {
		dir = DefaultDir
	}
	s := &Store{dir: filepath.Clean(dir), owner: o.Owner, age: o.MaxStatusAge, audit: o.Audit, rand: o.Rand}
	if s.age <= 0 {
		s.age = DefaultMaxStatusAge
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// MaxStatusAge is the oldest recorded status an offline logon accepts.
func (s *Store) MaxStatusAge() time.Duration { return s.age }

// logger is the audit log: Options.Audit, else JSON lines to syslog's
// authpriv facility (where pam_unix and sshd log logons, tagged
// sclogon-offline), connected at the first line; without a syslog socket,
// stderr.
func (s *Store) logger() *slog.Logger {
	s.auditOnce.Do(func() {
		if s.audit != nil {
			return
		}
		var w io.Writer = os.Stderr
		if sw, err := syslog.New(syslog.LOG_AUTHPRIV|syslog.LOG_NOTICE, "sclogon-offline"); err == nil {
			w = sw
		}
		s.audit = slog.New(slog.NewJSONHandler(w, nil))
	})
	return s.audit
}

// path names a user's record by a digest of the name, so that any PAM user
// name (`EXAMPLE\alice`, "alice@example.com", "..") is a plain file name.
func (s *Store) path(user string) string {
	h := sha256.Sum256([]byte(user))
	return filepath.Join(s.dir, hex.EncodeToString(h[:16])+".json")
}

// checkDir refuses a directory, or an ancestor of it, that someone other
// than the owner or root could change: as sshd's StrictModes does.
// A sticky ancestor (/tmp) is allowed, since only an entry's owner can
// rename it there.
func (s *Store) checkDir() error {
	dir := s.dir
	for {
		st, err := os.Lstat(dir)
		if err != nil {
			return err
		}
		if err := s.safe(dir, st, true); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// safe checks one directory or file: not a symbolic link, owned by the
// store's owner (or root, for ancestors), writable by nobody else.
func (s *Store) safe(name string, st fs.FileInfo, ancestor bool) error {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%w: %s: no owner information", ErrUnsafe, name)
	}
	uid, mode := int(sys.Uid), st.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, name)
	case uid != s.owner && !(ancestor && uid == 0):
		return fmt.Errorf("%w: %s is owned by uid %d, want %d", ErrUnsafe, name, uid, s.owner)
	case name == s.dir && mode.Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o, want 0700", ErrUnsafe, name, mode.Perm())
	case mode.IsDir() && mode.Perm()&0o022 != 0 && mode&fs.ModeSticky == 0:
		return fmt.Errorf("%w: %s has mode %04o: others may write it", ErrUnsafe, name, mode.Perm())
	case !mode.IsDir() && (!mode.IsRegular() || mode.Perm() != 0o600):
		return fmt.Errorf("%w: %s has mode %v, want a regular file, 0600", ErrUnsafe, name, mode)
	}
	return nil
}

// maxRecord bounds a record file: a certificate, a short chain, anchors
// and an OCSP response.
const maxRecord = 256 << 10

// read returns the bytes of user's record after checking the directory
// and the file as opened (fstat, not the path: no race with a rename).
func (s *Store) read(user string) ([]byte, error) {
	if err := s.checkDir(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no record of %s (%s does not exist)", ErrNeverOnline, user, s.dir)
		}
		return nil, err
	}
	name := s.path(user)
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no record of %s in %s", ErrNeverOnline, user, s.dir)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, name)
	}
	if err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("offline: %w", err)
	}
	if err := s.safe(name, st, false); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, fmt.Errorf("offline: read %s: %w", name, err)
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, name, maxRecord)
	}
	return b, nil
}

// write replaces user's record atomically: a new 0600 file made with
// O_EXCL beside it, synced, handed to the owner, renamed into place.
func (s *Store) write(user string, data []byte) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("offline: %w", err)
	}
	if err := s.checkDir(); err != nil {
		return err
	}
	name := s.path(user)
	var f *os.File
	var err error
	for i := 0; ; i++ {
		tmp := filepath.Join(s.dir, fmt.Sprintf(".%s.%d.%d.tmp", filepath.Base(name), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return fmt.Errorf("offline: create a file in %s: %w", s.dir, err)
		}
	}
	tmp := f.Name()
	err = writeSynced(f, data, s.owner)
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("offline: write %s: %w", name, err)
	}
	return nil
}

func writeSynced(f *os.File, data []byte, owner int) error {
	_, err := f.Write(data)
	if err == nil && os.Getuid() != owner {
		err = f.Chown(owner, -1)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Forget removes user's record: the next offline logon of user fails with
// [ErrNeverOnline]. A missing record is no error.
func (s *Store) Forget(user string) error {
	err := os.Remove(s.path(user))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("offline: %w", err)
	}
	return nil
}
