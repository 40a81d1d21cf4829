package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestZFSPool(t *testing.T) {
	pool := ZFSPool(t, 128<<20)
	if err := exec.Command("zfs", "create", pool+"/a").Run(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zfs", "get", "-Hp", "-o", "value", "mounted", pool+"/a").Output()
	if err != nil || strings.TrimSpace(string(out)) != "yes" {
		t.Fatalf("zfs get mounted: %q %v", out, err)
	}
}

func TestRestics(t *testing.T) {
	rs := Restics(t)
	if len(rs) != 2 {
		t.Fatalf("want Debian's restic and 0.18.1, got %v", rs)
	}
}
