package namespace

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Mount
		wantErr bool
	}{
		{
			name: "proc(5) example",
			in:   "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
			want: []Mount{{ID: 36, Parent: 35, Root: "/mnt1", Mountpoint: "/mnt2", Options: "rw,noatime",
				Optional: []string{"master:1"}, FSType: "ext3", Source: "/dev/root"}},
		},
		{
			name: "no optional fields, zfs-fuse dataset",
			in:   "48 47 0:45 / /tmp/x/mnt/home rw,relatime - fuse.zfs tank/home rw,user_id=0\n",
			want: []Mount{{ID: 48, Parent: 47, Root: "/", Mountpoint: "/tmp/x/mnt/home", Options: "rw,relatime",
				Optional: nil, FSType: "fuse.zfs", Source: "tank/home"}},
		},
		{
			name: "escaped space, tab, backslash; two optional fields",
			in:   `50 27 0:47 / /srv/my\040media\011x\134y ro shared:2 master:1 - zfs tank/my\040media rw` + "\n",
			want: []Mount{{ID: 50, Parent: 27, Root: "/", Mountpoint: "/srv/my media\tx\\y", Options: "ro",
				Optional: []string{"shared:2", "master:1"}, FSType: "zfs", Source: "tank/my media"}},
		},
		{name: "too short", in: "36 35 98:0 /mnt1 /mnt2 rw - ext3\n", wantErr: true},
		{name: "no separator", in: "36 35 98:0 /mnt1 /mnt2 rw a b c d\n", wantErr: true},
		{name: "bad id", in: "x 35 98:0 / / rw - ext3 /dev/root rw\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMountinfo(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMountHelpers(t *testing.T) {
	ms, err := ParseMountinfo(
		"1 0 0:1 / / rw shared:1 - ext4 /dev/vda rw\n" +
			"2 1 0:2 / /home ro,nosuid master:1 - zfs rpool/home rw\n" +
			"3 2 0:3 / /home/a rw - zfs rpool/home/a rw\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{ms[0].PeerGroup(), ms[1].PeerGroup(), ms[2].PeerGroup()}; !cmp.Equal(got, []int{1, 0, 0}) {
		t.Errorf("PeerGroup = %v, want [1 0 0]", got)
	}
	if got := []bool{ms[0].ReadOnly(), ms[1].ReadOnly()}; !cmp.Equal(got, []bool{false, true}) {
		t.Errorf("ReadOnly = %v, want [false true]", got)
	}
	for path, want := range map[string]string{"/home/a/x": "/home/a", "/home/ab": "/home", "/homer": "/", "/": "/"} {
		if m, ok := containing(ms, path); !ok || m.Mountpoint != want {
			t.Errorf("containing(%q) = %q, want %q", path, m.Mountpoint, want)
		}
	}
}

func TestSharesWith(t *testing.T) {
	parse := func(s string) []Mount {
		ms, err := ParseMountinfo(s)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	host := parse("1 0 0:1 / / rw shared:1 - ext4 /dev/vda rw\n2 1 0:2 / /run rw shared:5 - tmpfs tmpfs rw\n")
	tests := []struct {
		name string
		ours string
		want bool
	}{
		{"systemd service: all slaves", "9 8 0:1 / / rw master:1 - ext4 /dev/vda rw\n10 9 0:2 / /run rw master:5 - tmpfs tmpfs rw\n", false},
		{"own peer group after slave", "9 8 0:1 / / rw shared:30 master:1 - ext4 /dev/vda rw\n", false},
		{"still a peer of the host's /run", "9 8 0:1 / / rw master:1 - ext4 /dev/vda rw\n10 9 0:2 / /run rw shared:5 - tmpfs tmpfs rw\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := sharesWith(parse(tt.ours), host); got != tt.want {
				t.Errorf("sharesWith = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	// The snapshot views of a parent and a child dataset, bound over the
	// live mounts: the live child mount is still listed at its path, but
	// below the parent's view, where no lookup reaches it.
	ms, err := ParseMountinfo(
		"27 1 0:1 / / rw - ext4 /dev/vda rw\n" +
			"48 27 0:45 / /data rw - fuse.zfs p/data rw\n" +
			"49 48 0:46 / /data/child rw - fuse.zfs p/data/child rw\n" +
			"60 27 0:50 / /share/v0 rw master:2 - fuse.zfs p/bakc-j-0 rw\n" +
			"61 48 0:50 / /data ro master:2 - fuse.zfs p/bakc-j-0 rw\n" +
			"62 61 0:51 / /data/child ro master:3 - fuse.zfs p/bakc-j-1 rw\n" +
			"70 27 0:60 / /stack rw - tmpfs first rw\n" +
			"71 70 0:61 / /stack rw - tmpfs second rw\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{ // path → source of the mount a lookup ends on
		"/":              "/dev/vda",
		"/etc/passwd":    "/dev/vda",
		"/data":          "p/bakc-j-0",
		"/data/f":        "p/bakc-j-0",
		"/data/child":    "p/bakc-j-1",
		"/data/child/g":  "p/bakc-j-1",
		"/data/childish": "p/bakc-j-0",
		"/share/v0/x":    "p/bakc-j-0",
		"/stack/x":       "second",
	}
	for path, want := range tests {
		m, ok := Lookup(ms, path)
		if !ok || m.Source != want {
			t.Errorf("Lookup(%q) = %q (ok %v), want %q", path, m.Source, ok, want)
		}
	}
	if _, ok := Lookup(nil, "/"); ok {
		t.Errorf("Lookup on no mounts found one")
	}
}
