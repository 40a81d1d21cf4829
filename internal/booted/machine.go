package booted

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Machine is what a test puts on top of the cached tree before it boots:
// files, symlinks (enabled and masked units), pools. Nothing is written
// until Boot; the tree itself is never changed.
type Machine struct {
	// Name is the container's hostname: the node's name.
	Name string

	files map[string]File
	dirs  map[string]File
	links map[string]string
	pools []Pool
}

// File is one file to write into the machine. Exactly one of Data and
// From is set.
type File struct {
	Data []byte
	// From is a file on the host to copy (a binary).
	From string
	Mode fs.FileMode
	// UID and GID own the file (and nothing else: folders made on the
	// way belong to root).
	UID, GID int
}

// NewMachine is an empty machine with hostname name.
func NewMachine(name string) *Machine {
	return &Machine{Name: name, files: map[string]File{}, dirs: map[string]File{}, links: map[string]string{}}
}

// WriteFile writes data to the absolute path p, owned by root.
func (m *Machine) WriteFile(p string, data []byte, mode fs.FileMode) {
	m.put(p, File{Data: data, Mode: mode})
}

// WriteFileOwned writes data to p, owned by uid and gid (a secret that
// the backup user reads, a user's data).
func (m *Machine) WriteFileOwned(p string, data []byte, mode fs.FileMode, uid, gid int) {
	m.put(p, File{Data: data, Mode: mode, UID: uid, GID: gid})
}

// CopyFile copies the host's file from to p (binaries).
func (m *Machine) CopyFile(p, from string, mode fs.FileMode) {
	m.put(p, File{From: from, Mode: mode})
}

// MkdirOwned makes the folder p (and its parents, owned by root),
// owned by uid and gid with mode.
func (m *Machine) MkdirOwned(p string, mode fs.FileMode, uid, gid int) {
	mustAbs(p)
	m.dirs[path.Clean(p)] = File{Mode: mode, UID: uid, GID: gid}
}

// Symlink makes p a symlink to target.
func (m *Machine) Symlink(p, target string) {
	mustAbs(p)
	m.links[path.Clean(p)] = target
}

// Enable does what `systemctl enable` does for a unit whose [Install]
// section says WantedBy=target: a symlink in target's .wants folder.
func (m *Machine) Enable(unit, target string) {
	m.Symlink("/etc/systemd/system/"+target+".wants/"+unit, "/etc/systemd/system/"+unit)
}

// Mask does what `systemctl mask` does: the unit is linked to /dev/null.
func (m *Machine) Mask(unit string) {
	m.Symlink("/etc/systemd/system/"+unit, "/dev/null")
}

// Files lists the paths of the files written so far, sorted.
func (m *Machine) Files() []string {
	var out []string
	for p := range m.files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// File returns the file written at p.
func (m *Machine) File(p string) (File, bool) {
	f, ok := m.files[path.Clean(p)]
	return f, ok
}

func (m *Machine) put(p string, f File) {
	mustAbs(p)
	m.files[path.Clean(p)] = f
}

func mustAbs(p string) {
	if !strings.HasPrefix(p, "/") {
		panic(fmt.Sprintf("booted: %q is not an absolute path in the machine", p))
	}
}
