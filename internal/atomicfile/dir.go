package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is one file of a set that WriteDir writes.
type File struct {
	Name string
	Data []byte
}

// WriteDir writes files into the folder dir, all or nothing: every
// error that writing a file can meet (a name too long, a full disk, no
// permission) is met before any file in dir is touched, and then an
// error leaves dir as it was.
//
// When dir does not exist, the files are written into a new folder
// beside it, which is renamed to dir: atomic, as Write is for one
// file. When dir exists it may hold files that are not bakc's
// (/etc/systemd/system), so it is never replaced whole: the files are
// staged in a hidden folder inside dir (the same file system, so the
// renames below cannot meet a full disk or a cross-device move) and
// each target name is checked to be free or a regular file; only then
// is each staged file renamed over its target, one atomic rename each,
// and the staging folder removed. A reader may see some files new and
// others old while the renames run, never a half-written file; a
// rename that still fails (the folder changed under us) is reported
// with the files already replaced.
//
// Files in dir that are not in files are left alone.
func WriteDir(dir string, files []File, perm os.FileMode) error {
	for _, f := range files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("%q is not a file name", f.Name)
		}
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeNewDir(dir, files, perm)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	return writeIntoDir(dir, files, perm)
}

// writeNewDir writes files into a folder beside dir and renames it to
// dir.
func writeNewDir(dir string, files []File, perm os.FileMode) (err error) {
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := stage(tmp, files, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return syncDir(parent)
}

// writeIntoDir stages files in a hidden folder inside dir, then renames
// each over its target.
func writeIntoDir(dir string, files []File, perm os.FileMode) (err error) {
	tmp, err := os.MkdirTemp(dir, ".bakc-staging-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := stage(tmp, files, perm); err != nil {
		return err
	}
	for _, f := range files {
		st, err := os.Lstat(filepath.Join(dir, f.Name))
		if err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s); nothing was written", filepath.Join(dir, f.Name), st.Mode().Type())
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w; nothing was written", err)
		}
	}
	var done []string
	for _, f := range files {
		if err := os.Rename(filepath.Join(tmp, f.Name), filepath.Join(dir, f.Name)); err != nil {
			if len(done) == 0 {
				return fmt.Errorf("%w; nothing was written", err)
			}
			return fmt.Errorf("%w; already replaced: %s", err, strings.Join(done, ", "))
		}
		done = append(done, f.Name)
	}
	return syncDir(dir)
}

// stage writes each file into dir, synced.
func stage(dir string, files []File, perm os.FileMode) error {
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if err := os.WriteFile(p, f.Data, perm); err != nil {
			return fmt.Errorf("%w; nothing was written", err)
		}
		if err := os.Chmod(p, perm); err != nil {
			return err
		}
		if err := syncFile(p); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // not every file system can sync a folder
	return nil
}
