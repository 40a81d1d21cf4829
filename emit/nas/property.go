package nas

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// sizeProperties are the ZFS properties whose values are byte counts.
// `zfs get -Hp` prints them as plain numbers ("322122547200"), while the
// configuration says "300G"; the script and --check compare the numbers,
// so that a quota that is already right is never set again.
var sizeProperties = map[string]bool{
	"quota":                true,
	"refquota":             true,
	"reservation":          true,
	"refreservation":       true,
	"recordsize":           true,
	"volsize":              true,
	"volblocksize":         true,
	"special_small_blocks": true,
}

// parsableValue returns the value of p as `zfs get -Hp -o value` prints
// it once p is set: the byte count for a size property, the value itself
// for every other one.
func parsableValue(p plan.Property) (string, error) {
	if !sizeProperties[p.Name] {
		return p.Value, nil
	}
	n, err := parseSize(p.Value)
	if err != nil {
		return "", fmt.Errorf("is not a size: %w", err)
	}
	return strconv.FormatUint(n, 10), nil
}

// parseSize reads a size the way zfs does (zfs_nicestrtonum in libzfs):
// a whole or decimal number, then an optional unit B, K, M, G, T, P or E
// (powers of 1024, either case), optionally followed by "B" or "iB"
// ("300G", "300GB", "1.5T", "128k", "512"). "none" is 0, as zfs prints
// an unset quota.
func parseSize(s string) (uint64, error) {
	if s == "none" {
		return 0, nil
	}
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToUpper(s[i:])
	if num == "" || num == "." || strings.Count(num, ".") > 1 {
		return 0, fmt.Errorf("%q does not start with a number", s)
	}
	shift := 0
	if unit != "" {
		k := strings.IndexByte("BKMGTPE", unit[0])
		rest := unit[1:]
		if k < 0 || !(rest == "" || (k > 0 && (rest == "B" || rest == "IB"))) {
			return 0, fmt.Errorf("%q has an unknown unit (use B, K, M, G, T, P or E)", s)
		}
		shift = 10 * k
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil || (shift > 0 && n > math.MaxUint64>>shift) {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return n << shift, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	f *= math.Pow(2, float64(shift))
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return uint64(f), nil
}

// noneWhenZero are the size properties zfs shows as "none" when 0.
var noneWhenZero = map[string]bool{
	"quota":          true,
	"refquota":       true,
	"reservation":    true,
	"refreservation": true,
}

// displayValue returns the value of p as `zfs get -H` (without -p) shows
// it once p is set: what --check compares against, since go-zfs reads
// that form. Sizes are formatted the way zfs formats them (nicenum in
// libzfs): "300G", "1.50T", "128K".
func displayValue(p plan.Property) (string, error) {
	if !sizeProperties[p.Name] {
		return p.Value, nil
	}
	n, err := parseSize(p.Value)
	if err != nil {
		return "", err
	}
	if n == 0 && noneWhenZero[p.Name] {
		return "none", nil
	}
	return nicenum(n), nil
}

// nicenum formats a byte count as zfs does (zfs_nicenum): whole
// multiples of the unit without decimals, others with the most decimals
// (2, 1 or 0) that fit in five characters.
func nicenum(num uint64) string {
	const units = "BKMGTPE"
	index := 0
	n := num
	for n >= 1024 && index < len(units)-1 {
		n /= 1024
		index++
	}
	u := ""
	if index > 0 {
		u = units[index : index+1]
	}
	if index == 0 || num%(uint64(1)<<(10*index)) == 0 {
		return strconv.FormatUint(n, 10) + u
	}
	val := float64(num) / float64(uint64(1)<<(10*index))
	var s string
	for prec := 2; prec >= 0; prec-- {
		s = strconv.FormatFloat(val, 'f', prec, 64) + u
		if len(s) <= 5 {
			break
		}
	}
	return s
}
