package nas

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/internal/testenv"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "none", want: 0},
		{in: "128K", want: 128 << 10},
		{in: "128k", want: 128 << 10},
		{in: "1M", want: 1 << 20},
		{in: "300G", want: 300 << 30},
		{in: "300GB", want: 300 << 30},
		{in: "300GiB", want: 300 << 30},
		{in: "300gib", want: 300 << 30},
		{in: "4T", want: 4 << 40},
		{in: "1.5T", want: 3 << 39},
		{in: ".5G", want: 1 << 29},
		{in: "10B", want: 10},
		{in: "16E", wantErr: true},
		{in: "1BB", wantErr: true},
		{in: "1BiB", wantErr: true},
		{in: "1X", wantErr: true},
		{in: "G", wantErr: true},
		{in: "", wantErr: true},
		{in: "1.2.3G", wantErr: true},
		{in: "-1G", wantErr: true},
		{in: "1 G", wantErr: true},
		{in: "99999999999999999999", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseSize(%q): error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestSizesAsZFSShowsThem sets sizes on a real pool and compares what
// zfs get -Hp and zfs get -H print with parsableValue and displayValue,
// which the script and --check rely on to see that a value is set.
func TestSizesAsZFSShowsThem(t *testing.T) {
	pool := testenv.ZFSPool(t, 128<<20)
	zfs := testenv.LookPath(t, "zfs")
	get := func(flags, prop string) string {
		out, err := exec.Command(zfs, "get", flags, "-o", "value", prop, pool).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return strings.TrimSpace(string(out))
	}
	for _, pr := range []plan.Property{
		{Name: "quota", Value: "300G"},
		{Name: "quota", Value: "1000M"},
		{Name: "quota", Value: "1023.5M"},
		{Name: "quota", Value: "1.5G"},
		{Name: "quota", Value: "100000K"},
		{Name: "quota", Value: "123456789"},
		{Name: "quota", Value: "2.25T"},
		{Name: "quota", Value: "64MB"},
		{Name: "quota", Value: "none"},
		{Name: "reservation", Value: "10M"},
		{Name: "recordsize", Value: "128K"},
		{Name: "recordsize", Value: "4k"},
		{Name: "compression", Value: "on"},
		{Name: "atime", Value: "off"},
	} {
		out, err := exec.Command(zfs, "set", pr.Name+"="+pr.Value, pool).CombinedOutput()
		require.NoError(t, err, "zfs set %s=%s: %s", pr.Name, pr.Value, out)
		parsable, err := parsableValue(pr)
		require.NoError(t, err)
		display, err := displayValue(pr)
		require.NoError(t, err)
		got := []string{get("-Hp", pr.Name), get("-H", pr.Name)}
		if diff := cmp.Diff([]string{parsable, display}, got); diff != "" {
			t.Errorf("%s=%s: -Hp and -H (-want +got):\n%s", pr.Name, pr.Value, diff)
		}
	}
}

func TestNicenum(t *testing.T) {
	for in, want := range map[uint64]string{
		0:                 "0",
		1023:              "1023",
		1024:              "1K",
		1536:              "1.50K",
		10 << 20:          "10M",
		1073217536:        "1024M",
		102400000:         "97.7M",
		300 << 30:         "300G",
		3 << 39:           "1.50T",
		1<<63 + 1<<62:     "12E",
		uint64(1<<64 - 1): "16.0E",
	} {
		if got := nicenum(in); got != want {
			t.Errorf("nicenum(%s) = %q, want %q", strconv.FormatUint(in, 10), got, want)
		}
	}
}
