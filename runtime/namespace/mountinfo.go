package namespace

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of /proc/<pid>/mountinfo: a mount as the kernel sees
// it in that process's mount namespace.
type Mount struct {
	ID, Parent int
	// Root is the folder of the mounted file system that appears at
	// Mountpoint ("/" unless it is a bind mount of a subfolder).
	Root       string
	Mountpoint string
	// Options are the per-mount options ("ro,nosuid,…").
	Options string
	// Optional are the propagation fields: "shared:N", "master:N",
	// "propagate_from:N", "unbindable".
	Optional []string
	FSType   string
	// Source is the mounted thing: a device, "server:/export", or a ZFS
	// dataset name.
	Source string
}

// ReadOnly reports whether the mount itself is read-only.
func (m Mount) ReadOnly() bool {
	for _, o := range strings.Split(m.Options, ",") {
		if o == "ro" {
			return true
		}
	}
	return false
}

// PeerGroup returns N of "shared:N", or 0 when the mount shares nothing.
func (m Mount) PeerGroup() int {
	for _, f := range m.Optional {
		if v, ok := strings.CutPrefix(f, "shared:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// Mounts returns this process's mounts, in mount order.
func Mounts() ([]Mount, error) { return ReadMounts("/proc/self/mountinfo") }

// ReadMounts reads a mountinfo file (/proc/<pid>/mountinfo).
func ReadMounts(path string) ([]Mount, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseMountinfo(string(data))
}

// ParseMountinfo parses the text of a mountinfo file (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Paths and sources come back with the kernel's octal escapes (\040 for
// a space, \011, \012, \134) undone.
func ParseMountinfo(text string) ([]Mount, error) {
	var mounts []Mount
	for n, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, " ")
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if len(f) < 10 || sep < 0 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: unexpected format %q", n+1, line)
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: bad mount ids in %q", n+1, line)
		}
		mounts = append(mounts, Mount{
			ID:         id,
			Parent:     parent,
			Root:       unescapeMountinfo(f[3]),
			Mountpoint: unescapeMountinfo(f[4]),
			Options:    f[5],
			Optional:   append([]string(nil), f[6:sep]...),
			FSType:     f[sep+1],
			Source:     unescapeMountinfo(f[sep+2]),
		})
	}
	return mounts, nil
}

// unescapeMountinfo undoes the kernel's \ooo octal escapes.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Lookup returns the mount a lookup of path ends on, as the kernel walks
// it: from the root mount, down through every mount on a folder of the
// path, and up through mounts stacked on the same folder. A mount that
// something else was mounted over (on its own folder or above it) is
// never the answer, even when its mountpoint is path itself; so
// Lookup(…, p).Mountpoint == p says that p is a mountpoint and which
// mount it shows.
func Lookup(mounts []Mount, path string) (Mount, bool) {
	children := map[int][]Mount{}
	ids := map[int]bool{}
	for _, m := range mounts {
		ids[m.ID] = true
	}
	var cur Mount
	found := false
	for _, m := range mounts {
		if !ids[m.Parent] && m.Mountpoint == "/" && !found {
			cur, found = m, true // the namespace's root
			continue
		}
		children[m.Parent] = append(children[m.Parent], m)
	}
	if !found {
		return Mount{}, false
	}
	for {
		// The next mount on the way: mounted on cur, on a folder that is
		// path or above it; the closest to cur first, the latest mounted
		// when several sit on one folder.
		next, ok := Mount{}, false
		for _, c := range children[cur.ID] {
			if !within(path, c.Mountpoint) {
				continue
			}
			if !ok || len(c.Mountpoint) <= len(next.Mountpoint) {
				next, ok = c, true
			}
		}
		if !ok {
			return cur, true
		}
		cur = next
	}
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || dir == "/" || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}
