package restic

import (
	"encoding/json"
	"testing"
)

// shownAs must be exactly what restic's listing does to a name: Go's
// encoding/json writing it and reading it back.
func FuzzShownAsIsEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "caf\xe9", "\xff\xfe", "a\ufffd", "\xc3(", "\xe2\x82", "\xf0\x9f\x98", "ok\x00\n<>&\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back string
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if got := shownAs(s); got != back {
			t.Errorf("shownAs(%q) = %q, encoding/json gives %q", s, got, back)
		}
	})
}
