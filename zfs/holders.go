package zfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// mountHolders names the processes of each mount namespace in which the
// dataset name is still mounted, read from /proc/*/mountinfo: what
// keeps a dataset "busy" after its own mount went away (a copy of the
// mount that a namespace made while it was there, or a process working
// in it). It is asked only when Destroy gives up, so that the error says
// where to look; nil when /proc names none.
func mountHolders(name string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		ns, err := os.Readlink(filepath.Join(d, "ns", "mnt"))
		if err != nil || seen[ns] {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, "mountinfo"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			// "… - fstype source options": the source after the separator.
			_, after, ok := strings.Cut(line, " - ")
			if f := strings.Fields(after); !ok || len(f) < 2 || f[1] != name {
				continue
			}
			seen[ns] = true
			comm, _ := os.ReadFile(filepath.Join(d, "comm"))
			mp := strings.Fields(line)
			where := ""
			if len(mp) > 4 {
				where = " at " + mp[4]
			}
			out = append(out, fmt.Sprintf("%s (pid %s, %s)%s", ns, filepath.Base(d), strings.TrimSpace(string(comm)), where))
			break
		}
	}
	return out
}
