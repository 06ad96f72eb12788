package monthly

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The work directory holds a month's plain dataset while it is built,
// checked and sealed, and the check reports. Both can hold personal data
// (the reports name record keys), so the directory is kept 0700 and every
// file in it 0600. A run takes the lock of its delivery line (Träger,
// month, test or production) in the directory, so that two runs of one
// line never build into the same file; with the lock held it removes what
// a run of the line that died left behind.

// privateDir creates dir 0700, or narrows an existing one to 0700; it
// returns a notice when it changed an existing directory's mode.
func privateDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("work directory %s is not a directory", dir)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", fmt.Errorf("work directory %s is open to others (%04o) and cannot be narrowed to 0700: %w", dir, perm, err)
		}
		return fmt.Sprintf("work directory %s was %04o; set to 0700 (it holds plain datasets while they are processed)", dir, perm), nil
	}
	return "", nil
}

// lineLock is the lock of one delivery line in the work directory: an
// exclusive flock on ".XSOZIAL_<Träger>_<month>_<T|P>.lock".
type lineLock struct{ f *os.File }

// lockPath is the lock file of the line whose dataset is named stem
// ("XSOZIAL_12345_2026-10_P").
func lockPath(dir, stem string) string { return filepath.Join(dir, "."+stem+".lock") }

// tryLock takes the lock of line stem without waiting; ok is false when
// another run holds it.
func tryLock(dir, stem string) (l *lineLock, ok bool, err error) {
	f, err := os.OpenFile(lockPath(dir, stem), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("locking %s: %w", lockPath(dir, stem), err)
	}
	return &lineLock{f: f}, true, nil
}

// lockLine takes the lock of line stem, waiting for another run that holds
// it (and saying so through notice) until ctx ends.
func lockLine(ctx context.Context, dir, stem string, notice func(string)) (*lineLock, error) {
	told := false
	for {
		l, ok, err := tryLock(dir, stem)
		if err != nil || ok {
			return l, err
		}
		if !told {
			notice(fmt.Sprintf("another run of %s holds %s; waiting for it to queue its delivery", stem, lockPath(dir, stem)))
			told = true
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for the other run of %s: %w", stem, ctx.Err())
		case <-t.C:
		}
	}
}

// release gives the lock up; it may be called more than once.
func (l *lineLock) release() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the file drops the flock
		l.f = nil
	}
}

// cleanLeftovers removes what runs that did not finish left in dir, with
// the lock of line stem held: that line's plain dataset, and the
// temporary files of an interrupted write (".<name>.tmp-…", from
// atomicfile) of that line and of every other line whose lock is free.
// It returns one notice per file removed.
func cleanLeftovers(dir, stem string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	free := map[string]bool{stem: true}
	var notes []string
	for _, e := range entries {
		name := e.Name()
		var line string
		switch {
		case name == stem+".xml":
			line = stem
		case strings.HasPrefix(name, ".XSOZIAL_") && strings.Contains(name, ".tmp-"):
			line, _, _ = strings.Cut(name[1:], ".")
		default:
			continue
		}
		ok, seen := free[line]
		if !seen {
			l, got, err := tryLock(dir, line)
			if err != nil {
				return notes, err
			}
			l.release()
			ok, free[line] = got, got
		}
		if !ok || e.Type()&fs.ModeType != 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return notes, err
		}
		notes = append(notes, fmt.Sprintf("removed %s (%d bytes), left by a run that did not finish", p, info.Size()))
	}
	return notes, nil
}
