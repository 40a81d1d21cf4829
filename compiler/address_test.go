package compiler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAddressProblem(t *testing.T) {
	for _, tt := range []struct {
		name, addr string
		ok         bool
	}{
		{"host name", "nas-1.example.net", true},
		{"host name with trailing dot", "nas-1.example.net.", true},
		{"single label", "nas", true},
		{"IPv4", "192.0.2.10", true},
		{"IPv6", "fd00::10", true},
		{"IPv6 in capitals", "FD00::A", true},
		{"IPv6 loopback", "::1", true},
		{"IPv6 zone", "fe80::1%eth0", false},
		{"IPv6 numeric zone", "fe80::1%2", false},
		{"IPv4-mapped IPv6", "::ffff:192.0.2.1", false},
		{"brackets", "[fd00::1]", false},
		{"unspecified IPv4", "0.0.0.0", false},
		{"unspecified IPv6", "::", false},
		{"multicast", "ff02::1", false},
		{"octal IPv4", "192.0.2.010", false},
		{"short IPv4", "10.1", false},
		{"hexadecimal IPv4", "0x7f.1", false},
		{"number", "2130706433", false},
		{"URL", "https://nas-1", false},
		{"port", "nas-1:22", false},
		{"IPv4 with port", "192.0.2.1:22", false},
		{"empty", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := addressProblem(tt.addr); (got == "") != tt.ok {
				t.Errorf("addressProblem(%q) = %q; want ok: %v", tt.addr, got, tt.ok)
			}
		})
	}
}

func TestAddressKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"forge.example.net", "FORGE.example.net."},
		{"fd00::a", "FD00:0:0::A"},
		{"fd00::a", "fd00:0000:0000:0000:0000:0000:0000:000a"},
		{"192.0.2.10", "192.0.2.10"},
	} {
		if addressKey(tt.a) != addressKey(tt.b) {
			t.Errorf("%q and %q have different keys: %q, %q", tt.a, tt.b, addressKey(tt.a), addressKey(tt.b))
		}
	}
	if addressKey("fd00::a") == addressKey("fd00::b") {
		t.Error("fd00::a and fd00::b have one key")
	}
}

// `bakc nas-plan` refuses two nodes of the NAS on one address too, with
// both places, as validate does.
func TestNASPlanRefusesSharedNodeAddress(t *testing.T) {
	files := map[string]string{"bakc.hcl": `nas "nas-1" {
  address    = "nas-1.example.net"
  parent     = "backup"
  mount_root = "/mnt/backup"

  dataset "restic" {
    quota  = "100G"
    export = "nfs"
  }
}
`}
	for _, n := range []struct{ name, addr string }{{"web", "fd00::a"}, {"db", "FD00:0::A"}} {
		files["hosts/"+n.name+".hcl"] = fmt.Sprintf(`node %q {
  address = %q
  nas     = "nas-1"

  repository "nas" {
    nfs {
      dataset    = "restic"
      mountpoint = "/mnt/nas"
    }
    password_file = "/run/secrets/restic"
  }

  job "state" {
    paths = ["/var/lib"]
  }
}
`, n.name, n.addr)
	}
	f, diags := LoadFleet(writeFleet(t, files))
	require.False(t, diags.HasErrors(), "%v", diags)
	p, diags := f.NASPlan("nas-1")
	require.Nil(t, p)
	require.Len(t, diags, 1)
	d := diags[0]
	require.Equal(t, "Duplicate node address", d.Summary)
	require.True(t, strings.HasSuffix(d.Subject.Filename, "hosts/web.hcl"), "subject %s", d.Subject.Filename)
	require.Equal(t, 2, d.Subject.Start.Line)
	for _, want := range []string{`node "db" at `, `hosts/db.hcl:2`, `written "FD00:0::A" there`} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail %q does not say %q", d.Detail, want)
		}
	}
}
