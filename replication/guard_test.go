package replication

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var forge = Guard{Datasets: []string{"rpool/safe/home", "rpool/safe/persist"}}

const (
	snapA = "autosnap_2026-11-30_02:00:00_hourly"
	snapB = "autosnap_2026-11-30_03:00:00_hourly"
)

// TestGuardAllowsWhatSyncoidRuns: each line is what syncoid 2.1.0 sent
// over ssh in a full, an incremental and a no-op pull with SyncoidArgs'
// flags (recorded from a real run; replication_test in cmd/bakc runs
// them through sshd), and the fallback and bookmark listings of its
// other paths.
func TestGuardAllowsWhatSyncoidRuns(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Action
	}{
		{"master connection", "exit", Action{}},
		{"connection test", "echo -n", Action{}},
		{"mbuffer check", "command -v mbuffer", Action{Exit: 1}},
		{"compressor check", "command -v lzop", Action{Exit: 1}},
		{"sync property", "zfs get -H syncoid:sync 'rpool/safe/home'",
			Action{Argv: []string{"zfs", "get", "-H", "syncoid:sync", "rpool/safe/home"}}},
		{"snapshot list", "zfs get -Hpd 1 -t snapshot guid,creation 'rpool/safe/home'",
			Action{Argv: []string{"zfs", "get", "-Hpd", "1", "-t", "snapshot", "guid,creation", "rpool/safe/home"}, FilterSnapshotsOf: "rpool/safe/home"}},
		{"snapshot list fallback", "zfs get -Hpd 1 type,guid,creation 'rpool/safe/persist'",
			Action{Argv: []string{"zfs", "get", "-Hpd", "1", "type,guid,creation", "rpool/safe/persist"}, FilterSnapshotsOf: "rpool/safe/persist"}},
		{"bookmark list", "zfs get -Hpd 1 -t bookmark guid,creation 'rpool/safe/home'",
			Action{Argv: []string{"zfs", "get", "-Hpd", "1", "-t", "bookmark", "guid,creation", "rpool/safe/home"}}},
		{"full size", "zfs send -nvP 'rpool/safe/home@" + snapA + "'",
			Action{Argv: []string{"zfs", "send", "-nvP", "rpool/safe/home@" + snapA}}},
		{"full stream", " zfs send  'rpool/safe/home'@'" + snapA + "'",
			Action{Argv: []string{"zfs", "send", "rpool/safe/home@" + snapA}}},
		{"incremental size", "zfs send -nvP -I 'rpool/safe/home@" + snapA + "' 'rpool/safe/home@" + snapB + "'",
			Action{Argv: []string{"zfs", "send", "-nvP", "-I", "rpool/safe/home@" + snapA, "rpool/safe/home@" + snapB}}},
		{"incremental stream", " zfs send  -I 'rpool/safe/home'@'" + snapA + "' 'rpool/safe/home'@'" + snapB + "'",
			Action{Argv: []string{"zfs", "send", "-I", "rpool/safe/home@" + snapA, "rpool/safe/home@" + snapB}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := forge.Decide(tc.line)
			if err != nil {
				t.Fatalf("Decide(%q): %v", tc.line, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decide(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

// TestGuardRefuses: everything the NAS's key must not do on the node,
// and every way of smuggling a second command past the split.
func TestGuardRefuses(t *testing.T) {
	for _, tc := range []struct{ name, line string }{
		{"login shell", ""},
		{"blanks only", "  \t "},
		{"another program", "rm -rf /"},
		{"a shell", "sh -c 'zfs list'"},
		{"destroy", "zfs destroy rpool/safe/home@" + snapA},
		{"destroy recursive", "zfs destroy -r rpool/safe/home"},
		{"rollback", "zfs rollback -r rpool/safe/home@" + snapA},
		{"receive", "zfs receive -F rpool/safe/home"},
		{"snapshot", "zfs snapshot rpool/safe/home@x"},
		{"hold", "zfs hold keep rpool/safe/home@" + snapA},
		{"bookmark", "zfs bookmark rpool/safe/home@" + snapA + " rpool/safe/home#b"},
		{"set", "zfs set readonly=off rpool/safe/home"},
		{"list everything", "zfs list -t all"},
		{"get of another dataset", "zfs get -H syncoid:sync rpool/secret"},
		{"get of a child", "zfs get -H syncoid:sync rpool/safe/home/child"},
		{"get of all properties", "zfs get all rpool/safe/home"},
		{"get recursive", "zfs get -Hrpt snapshot creation rpool"},
		{"send of another dataset", "zfs send rpool/secret@" + snapA},
		{"send of a dataset's parent", "zfs send rpool/safe@" + snapA},
		{"send of a non-sanoid snapshot", "zfs send rpool/safe/home@bakc-system-20261130T020000Z"},
		{"send replicated stream", "zfs send -R rpool/safe/home@" + snapA},
		{"send raw", "zfs send -w rpool/safe/home@" + snapA},
		{"send with properties", "zfs send -p rpool/safe/home@" + snapA},
		{"send resume token", "zfs send -t 1-abcdef"},
		{"send from a bookmark", "zfs send -i rpool/safe/home#b rpool/safe/home@" + snapA},
		{"send -i (not what bakc's syncoid runs)", "zfs send -i rpool/safe/home@" + snapA + " rpool/safe/home@" + snapB},
		{"incremental across datasets", "zfs send -I rpool/safe/home@" + snapA + " rpool/safe/persist@" + snapB},
		{"incremental from another dataset", "zfs send -I rpool/secret@" + snapA + " rpool/safe/home@" + snapB},
		{"send without snapshot", "zfs send rpool/safe/home"},
		{"send piped to mbuffer", "zfs send rpool/safe/home@" + snapA + " | mbuffer -q"},
		{"semicolon", "zfs get -H syncoid:sync rpool/safe/home; touch /pwned"},
		{"ampersand", "echo -n && touch /pwned"},
		{"command substitution", "zfs get -H syncoid:sync $(touch /pwned)"},
		{"backticks", "zfs get -H syncoid:sync `touch /pwned`"},
		{"variable", "zfs get -H syncoid:sync $HOME"},
		{"redirection", "zfs send rpool/safe/home@" + snapA + " >/etc/passwd"},
		{"double quotes", `zfs get -H syncoid:sync "rpool/safe/home"`},
		{"backslash", `zfs get -H syncoid:sync rpool/safe/home\;`},
		{"glob", "zfs get -H syncoid:sync rpool/safe/*"},
		{"tilde", "zfs get -H syncoid:sync ~root"},
		{"newline", "echo -n\ntouch /pwned"},
		{"carriage return", "echo -n\rtouch"},
		{"NUL", "echo -n\x00"},
		{"unclosed quote", "zfs get -H syncoid:sync 'rpool/safe/home"},
		{"quoted command with space", "'zfs get' -H syncoid:sync rpool/safe/home"},
		{"echo other text", "echo hello"},
		{"command without -v", "command mbuffer"},
		{"exit with code", "exit 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := forge.Decide(tc.line)
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Decide(%q) = %+v, %v; want a refusal", tc.line, got, err)
			}
		})
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       []string
	}{
		{"plain", "zfs get -H x", []string{"zfs", "get", "-H", "x"}},
		{"blanks around", "  zfs\t send  ", []string{"zfs", "send"}},
		{"quoted", "'a b'", []string{"a b"}},
		{"joined parts", "'pool/ds'@'snap'", []string{"pool/ds@snap"}},
		{"empty quotes", "''", []string{""}},
		{"quote keeps specials", "'$(x);|&'", []string{"$(x);|&"}},
		{"none", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Words(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Words(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestSnapshotLines(t *testing.T) {
	out := "rpool/safe/home\ttype\tfilesystem\t-\n" +
		"rpool/safe/home@" + snapA + "\tguid\t1\t-\n" +
		"rpool/safe/home@bakc-system-20261130T020000Z\tguid\t2\t-\n" +
		"rpool/safe/home2@" + snapA + "\tguid\t3\t-\n" +
		"rpool/safe/home@" + snapB + "\tcreation\t4\t-\n"
	want := "rpool/safe/home@" + snapA + "\tguid\t1\t-\n" +
		"rpool/safe/home@" + snapB + "\tcreation\t4\t-\n"
	if diff := cmp.Diff(want, SnapshotLines(out, "rpool/safe/home")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzGuardRunsOnlyItsGrammar: whatever the line, an allowed request is
// zfs get or zfs send of a replicated dataset with nothing that could be
// an option of another meaning, or a no-op.
func FuzzGuardRunsOnlyItsGrammar(f *testing.F) {
	for _, s := range []string{"exit", "echo -n", "zfs send -I 'rpool/safe/home'@'" + snapA + "' 'rpool/safe/home'@'" + snapB + "'", "zfs get -H syncoid:sync rpool/safe/home", "zfs destroy x; y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		a, err := forge.Decide(line)
		if err != nil {
			return
		}
		if len(a.Argv) == 0 {
			return
		}
		if a.Argv[0] != "zfs" || (a.Argv[1] != "get" && a.Argv[1] != "send") {
			t.Fatalf("%q runs %q", line, a.Argv)
		}
		last := a.Argv[len(a.Argv)-1]
		if ds := dataset(last); !forge.allowed(ds) {
			t.Fatalf("%q reaches dataset %q", line, ds)
		}
	})
}
