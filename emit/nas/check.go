package nas

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// ZFS is what --check reads of a NAS's ZFS state. zfs.PropertyReader
// implements it with go-zfs; tests may use a real pool through it too.
type ZFS interface {
	// Property returns a property's value as `zfs get -H` shows it; ok is
	// false when the dataset does not exist.
	Property(dataset, name string) (value string, ok bool, err error)
}

// Files is what --check reads of the NAS's files (below the NAS's root,
// BAKC_NAS_ROOT in tests). Errors for missing files wrap fs.ErrNotExist.
type Files interface {
	ReadFile(path string) ([]byte, error)
	// Owner returns the numeric owner and group of a file or folder.
	Owner(path string) (uid, gid int, err error)
}

// Difference is one way in which a NAS differs from its plan.
type Difference struct {
	// Subject is the dataset, file or user concerned.
	Subject string
	// Is is what the NAS has now ("missing" when it has nothing).
	Is string
	// Want is what the configuration says.
	Want string
}

// String prints the difference as one line for the user.
func (d Difference) String() string {
	return fmt.Sprintf("%s: is %s, the configuration says %s", d.Subject, d.Is, d.Want)
}

// Check compares the NAS's current state with p and returns every
// difference the script would fix, in the order the script works, without
// changing anything: datasets, their mountpoints and properties, owners
// of repository datasets, replication users and their keys, exports
// files. It reads property values as zfs shows them (see ZFS), so a size
// that differs from the configuration by less than zfs's rounding (a few
// parts in a thousand) is not seen, and it does not read `zfs allow`
// rights, which go-zfs cannot read; the script compares both exactly.
func Check(p *plan.NASPlan, z ZFS, files Files) ([]Difference, error) {
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	c := &checker{z: z, files: files}
	c.dataset(p.NAS.Parent, p.NAS.MountRoot, false)
	for _, n := range v.Nodes {
		c.dataset(n.Dataset, "", false)
		for _, d := range n.Datasets {
			if !c.dataset(d.ZFSName, d.Mountpoint, true) {
				continue
			}
			if d.Owner != nil {
				c.owner(d.Mountpoint, d.Owner.UID, d.Owner.GID)
			}
			for _, pr := range d.Properties {
				c.property(d.ZFSName, plan.Property{Name: pr.Name, Value: pr.Value})
			}
		}
	}
	for _, n := range v.Nodes {
		for _, d := range n.Datasets {
			if r := d.Receive; r != nil {
				c.user(r)
			}
		}
	}
	for _, n := range v.Nodes {
		c.file(n.ExportsFile, n.Exports)
	}
	return c.diffs, errors.Join(c.errs...)
}

type checker struct {
	z     ZFS
	files Files
	diffs []Difference
	errs  []error
}

func (c *checker) add(subject, is, want string) {
	c.diffs = append(c.diffs, Difference{Subject: subject, Is: is, Want: want})
}

// dataset checks that a dataset exists and, if mountpoint is set, that it
// is mounted there; it reports whether the dataset is there to look into.
func (c *checker) dataset(name, mountpoint string, mustMount bool) bool {
	mp, ok, err := c.z.Property(name, "mountpoint")
	if err != nil {
		c.errs = append(c.errs, err)
		return false
	}
	if !ok {
		c.add("dataset "+name, "missing", "a dataset")
		return false
	}
	if mountpoint != "" && mp != mountpoint {
		c.add("dataset "+name+" mountpoint", mp, mountpoint)
		return false
	}
	if mustMount {
		m, _, err := c.z.Property(name, "mounted")
		if err != nil {
			c.errs = append(c.errs, err)
			return false
		}
		if m != "yes" {
			c.add("dataset "+name, "not mounted", "mounted at "+mountpoint)
			return false
		}
	}
	return true
}

func (c *checker) property(dataset string, p plan.Property) {
	want, err := displayValue(p)
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	got, ok, err := c.z.Property(dataset, p.Name)
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	if !ok {
		c.add("dataset "+dataset, "missing", "a dataset")
		return
	}
	if got != want {
		c.add(dataset+" "+p.Name, got, want)
	}
}

func (c *checker) owner(path string, uid, gid int) {
	u, g, err := c.files.Owner(path)
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	if u != uid || g != gid {
		c.add("owner of "+path, fmt.Sprintf("%d:%d", u, g), fmt.Sprintf("%d:%d", uid, gid))
	}
}

// file compares a whole file; want "" means that there must be none.
func (c *checker) file(path, want string) {
	got, err := c.files.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if want != "" {
			c.add(path, "missing", "a file")
		}
	case err != nil:
		c.errs = append(c.errs, err)
	case want == "":
		c.add(path, "there", "no file (the node exports nothing)")
	case !bytes.Equal(got, []byte(want)):
		c.add(path, "different", "the file bakc nas-plan writes")
	}
}

// user checks that the replication user exists with bakc's home and
// shell, and holds exactly bakc's key.
func (c *checker) user(r *receiveView) {
	passwd, err := c.files.ReadFile("/etc/passwd")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.errs = append(c.errs, err)
		return
	}
	var fields []string
	for _, line := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(line, ":"); len(f) == 7 && f[0] == r.User {
			fields = f
			break
		}
	}
	if fields == nil {
		c.add("user "+r.User, "missing", "a user with home "+r.Home+" and shell /bin/sh")
		return
	}
	if fields[5] != r.Home {
		c.add("home of user "+r.User, fields[5], r.Home)
	}
	if fields[6] != "/bin/sh" {
		c.add("shell of user "+r.User, fields[6], "/bin/sh")
	}
	c.file(r.Home+"/.ssh/authorized_keys", r.AuthorizedKeys)
}
