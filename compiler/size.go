package compiler

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
)

// sizeRE is a size as both zfs (quota, recordsize) and systemd
// (MemoryMax) read it: a number, optionally with a fraction, and an
// optional binary unit letter. Anything fancier ("300 GB", "1GiB") is
// refused rather than guessed at, so that the value written to the NAS
// script or unit is exactly the one checked here.
var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)([KMGTPE]?)$`)

// unitShift is the power of 1024 of each unit letter.
var unitShift = map[string]uint{"": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}

// parseSize returns the number of bytes of a size such as "300G" or
// "1.5T". Units are powers of 1024, as in zfs and systemd.
func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		if up := strings.ToUpper(s); sizeRE.MatchString(up) {
			// zfs takes a lowercase unit, systemd does not: ask for
			// the one spelling both read.
			return 0, fmt.Errorf("%q has a lowercase unit; write %q", s, up)
		}
		return 0, fmt.Errorf("%q is not a size", s)
	}
	f, _, err := big.ParseFloat(m[1], 10, 128, big.ToZero)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	f.SetMantExp(f, int(unitShift[m[2]]))
	if f.Cmp(big.NewFloat(math.MaxInt64)) >= 0 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	n, _ := f.Int64()
	return n, nil
}

// formatBytes prints a byte count for a message: "300G (322122547200 bytes)".
func formatBytes(n int64) string {
	units := []string{"E", "P", "T", "G", "M", "K"}
	shifts := []uint{60, 50, 40, 30, 20, 10}
	for i, u := range units {
		if n >= 1<<shifts[i] {
			v := float64(n) / float64(int64(1)<<shifts[i])
			return fmt.Sprintf("%s%s (%d bytes)", trimFloat(v), u, n)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// validSize reports whether s is a size parseSize takes.
func validSize(s string) bool {
	_, err := parseSize(s)
	return err == nil
}

// formatBigBytes is formatBytes for a sum that may not fit an int64.
func formatBigBytes(n *big.Int) string {
	if n.IsInt64() {
		return formatBytes(n.Int64())
	}
	return n.String() + " bytes"
}
