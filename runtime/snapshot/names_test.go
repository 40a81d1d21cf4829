package snapshot

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/zfs"
)

func TestName(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	got := Name("system", time.Date(2026, 11, 26, 3, 0, 0, 0, berlin))
	if want := "bakc-system-20261126T020000Z"; got != want {
		t.Errorf("Name = %q, want %q (UTC)", got, want)
	}
}

func TestJobNamesAreExact(t *testing.T) {
	tests := []struct {
		job, name     string
		snap, isClone bool
	}{
		{"a", "bakc-a-20261126T020000Z", true, false},
		{"a", "bakc-a-20261126T020000Z-0", false, true},
		{"a", "bakc-a-20261126T020000Z-12", false, true},
		{"a", "bakc-a-b-20261126T020000Z", false, false}, // job "a-b"
		{"a-b", "bakc-a-b-20261126T020000Z", true, false},
		{"a", "bakc-a-20261126T020000Z-", false, false},
		{"a", "bakc-a-20261126T020000Z-x", false, false},
		{"a", "bakc-a-2026112T020000Z", false, false},
		{"a", "bakc-a-20261126T020000", false, false},
		{"a", "xbakc-a-20261126T020000Z", false, false},
		{"a", "bakc-a-", false, false},
	}
	for _, tt := range tests {
		if got := isJobSnapshotName(tt.job, tt.name); got != tt.snap {
			t.Errorf("isJobSnapshotName(%q, %q) = %v, want %v", tt.job, tt.name, got, tt.snap)
		}
		if got := isJobCloneName(tt.job, tt.name); got != tt.isClone {
			t.Errorf("isJobCloneName(%q, %q) = %v, want %v", tt.job, tt.name, got, tt.isClone)
		}
	}
}

func TestSnapshotRoots(t *testing.T) {
	ds := func(names ...string) []plan.Dataset {
		var out []plan.Dataset
		for _, n := range names {
			out = append(out, plan.Dataset{Name: n})
		}
		return out
	}
	tests := []struct {
		name string
		in   []plan.Dataset
		want []string
	}{
		{"one", ds("rpool/home"), []string{"rpool/home"}},
		{"child covered", ds("rpool/home", "rpool/home/alice"), []string{"rpool/home"}},
		{"child first in the plan", ds("rpool/home/alice", "rpool/home"), []string{"rpool/home"}},
		{"sibling with a longer name is not a child", ds("rpool/a", "rpool/a-b", "rpool/a/c"), []string{"rpool/a", "rpool/a-b"}},
		{"two pools", ds("tank/media", "rpool/safe/persist"), []string{"rpool/safe/persist", "tank/media"}},
		{"duplicate", ds("rpool/x", "rpool/x"), []string{"rpool/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, snapshotRoots(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveMountpoint(t *testing.T) {
	declared := map[string]string{"rpool/home": "/home"}
	tests := []struct {
		name      string
		entry     zfs.ListEntry
		mountedAt []string
		want      string
		shown     bool
		wantErr   bool
	}{
		{"declared, mounted there", zfs.ListEntry{Name: "rpool/home", Mountpoint: "legacy"}, []string{"/home"}, "/home", true, false},
		{"declared, not mounted", zfs.ListEntry{Name: "rpool/home", Mountpoint: "/home"}, nil, "", false, true},
		{"declared, mounted elsewhere", zfs.ListEntry{Name: "rpool/home", Mountpoint: "/elsewhere"}, []string{"/elsewhere"}, "", false, true},
		{"child with a path, mounted", zfs.ListEntry{Name: "rpool/home/a", Mountpoint: "/home/a"}, []string{"/home/a"}, "/home/a", true, false},
		{"child with a path, not mounted (canmount=noauto)", zfs.ListEntry{Name: "rpool/home/a", Mountpoint: "/home/a"}, nil, "", false, false},
		{"legacy child mounted by fstab", zfs.ListEntry{Name: "rpool/home/b", Mountpoint: "legacy"}, []string{"/home/b"}, "/home/b", true, false},
		{"legacy child mounted twice: the latest", zfs.ListEntry{Name: "rpool/home/b", Mountpoint: "legacy"}, []string{"/old", "/home/b"}, "/home/b", true, false},
		{"legacy, not mounted", zfs.ListEntry{Name: "rpool/home/c", Mountpoint: "legacy"}, nil, "", false, false},
		{"none", zfs.ListEntry{Name: "rpool/home/d", Mountpoint: "none"}, nil, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, shown, err := resolveMountpoint(tt.entry, declared, tt.mountedAt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want || shown != tt.shown {
				t.Errorf("= %q, %v; want %q, %v", got, shown, tt.want, tt.shown)
			}
		})
	}
}

func TestRelevant(t *testing.T) {
	paths := []string{"/home", "/persist/var/lib/plex"}
	for target, want := range map[string]bool{
		"/home":                      true,
		"/home/alice":                true,
		"/persist":                   true, // the path is below it
		"/persist/var/lib/plex/meta": true,
		"/persist/var":               true,
		"/persist/other":             false,
		"/homer":                     false,
		"/":                          true,
		"/srv":                       false,
	} {
		if got := relevant(target, paths); got != want {
			t.Errorf("relevant(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestKernelZFSProbe(t *testing.T) {
	tests := map[string]bool{
		"nodev\tsysfs\nnodev\tzfs\n":               true,
		"nodev\tfuse\n\tfuseblk\nnodev\tfusectl\n": false,
		"\text4\n": false,
	}
	for in, want := range tests {
		if got := kernelZFS(in); got != want {
			t.Errorf("kernelZFS(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTakeRefusesJobsWithoutZFS(t *testing.T) {
	ctx := context.Background()
	z := zfs.NewWithCommand(nil, "/nonexistent/zfs")
	if _, err := Take(ctx, z, &plan.Job{Name: "x", Snapshot: plan.SnapshotNone}, time.Now(), nil); err == nil {
		t.Errorf("Take of a snapshot = none job worked")
	}
	if _, err := Take(ctx, z, &plan.Job{Name: "x", Snapshot: plan.SnapshotZFS}, time.Now(), nil); err == nil {
		t.Errorf("Take of a job without datasets worked")
	}
	var s *Set
	if err := s.Release(ctx); err != nil || s.Snapshots() != nil {
		t.Errorf("a nil Set must release nothing: %v", err)
	}
}

func TestCheckTargetsRefusesAViewOverRoot(t *testing.T) {
	if err := checkTargets([]*view{{dataset: "rpool/home", target: "/home"}}); err != nil {
		t.Errorf("/home: %v", err)
	}
	if err := checkTargets([]*view{{dataset: "rpool/root", target: "/"}, {dataset: "rpool/home", target: "/home"}}); err == nil {
		t.Error("a view over / was accepted")
	}
}
