package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// examplePlan is the example fleet's forge plan, as the compiler wrote
// it: a plan with every kind of field (NFS and cloud repositories, a ZFS
// job, hooks, verify and restore tests).
const examplePlan = "../../examples/homelab/out/forge/plan.json"

func readExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(examplePlan)
	require.NoError(t, err)
	return data
}

// TestExamplePlansDecode: every plan the compiler wrote for the example
// fleet decodes and validates (the compiler's fuzz test checks the same
// for random configurations).
func TestExamplePlansDecode(t *testing.T) {
	files, err := filepath.Glob("../../examples/homelab/out/*/plan.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			_, err := ReadFile(f)
			require.NoError(t, err)
		})
	}
}

// TestDecodeRefuses is issue 9, item 14: each of these plans was run
// before, some of them doing harm (a lock written outside the state
// folder, a live read instead of a snapshot, a skipped mount check, no
// error log). Each is refused now, naming the field.
func TestDecodeRefuses(t *testing.T) {
	text := func(old, new string) func(t *testing.T, data []byte) []byte {
		return func(t *testing.T, data []byte) []byte {
			require.Contains(t, string(data), old)
			return []byte(strings.Replace(string(data), old, new, 1))
		}
	}
	edit := func(f func(p *Plan)) func(t *testing.T, data []byte) []byte {
		return func(t *testing.T, data []byte) []byte {
			var p Plan
			require.NoError(t, json.Unmarshal(data, &p))
			f(&p)
			out, err := Marshal(&p)
			require.NoError(t, err)
			return out
		}
	}
	job := func(p *Plan, name string) *Job {
		j, ok := p.Job(name)
		if !ok {
			panic(name)
		}
		return j
	}
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, data []byte) []byte
		// want are the field and a part of the message.
		want []string
	}{
		{"data after the object", func(_ *testing.T, d []byte) []byte { return append(d, `{"version": 1}`...) },
			[]string{"(top level)", "after top-level value"}},
		{"a field name in another case", text(`  "monitoring": {`, `  "PATHS": {"state": "/tmp/elsewhere"},
  "monitoring": {`),
			[]string{"decoding plan: PATHS: unknown field"}},
		{"a field given twice", text(`"snapshot": "zfs"`, `"snapshot": "zfs", "snapshot": "none"`),
			[]string{"decoding plan: jobs[2].snapshot: given twice"}},
		{"an unknown field", text(`"snapshot": "zfs"`, `"snapshot": "zfs", "excludes": ["/home/x"]`),
			[]string{"decoding plan: jobs[2].excludes: unknown field"}},
		{"a field of the wrong type", text(`"uid": 2049`, `"uid": "2049"`),
			[]string{"user.uid"}},
		{"no object", func(*testing.T, []byte) []byte { return []byte(`[]`) },
			[]string{"(top level)", "unmarshal JSON array"}},
		{"another version", edit(func(p *Plan) { p.Version = 2 }),
			[]string{"plan version 2, but this bakc reads version 1"}},
		{"another version with fields this build does not know", text(`"version": 1,`, `"version": 2, "hooks_v2": {},`),
			[]string{"plan version 2, but this bakc reads version 1"}},
		{"a job name that climbs out of the state folder", edit(func(p *Plan) { job(p, "system").Name = "../../../x" }),
			[]string{`jobs[2].name: "../../../x" is not a job name`}},
		{"a repository name with a slash", edit(func(p *Plan) { p.Repositories[1].Name = "nas/primary" }),
			[]string{`repositories[1].name: "nas/primary" is not a repository name`}},
		{"a node name in capitals", edit(func(p *Plan) { p.Node.Name = "Forge" }),
			[]string{`node.name: "Forge" is not a node name`}},
		{"a relative job path", edit(func(p *Plan) { job(p, "plex").Paths[0] = "var/lib/plex" }),
			[]string{`jobs[1].paths[0]: "var/lib/plex" is not an absolute path`}},
		{"a job path with ..", edit(func(p *Plan) { job(p, "plex").Paths[0] = "/persist/../etc" }),
			[]string{`jobs[1].paths[0]: "/persist/../etc" is not in its clean form "/etc"`}},
		{"an empty job path", edit(func(p *Plan) { job(p, "plex").Paths[0] = "" }),
			[]string{`jobs[1].paths[0]: "" is not an absolute path`}},
		{"no job paths", edit(func(p *Plan) { job(p, "plex").Paths = nil }),
			[]string{`jobs[1].paths: are empty and the job has no dumps`}},
		{"dump tag not its name", edit(func(p *Plan) {
			job(p, "plex").Dumps = []Dump{{Name: "pg", Command: []string{"pg_dumpall"}, Filename: "pg.sql", Tag: "dump:other"}}
		}), []string{`jobs[1].dumps[0].tag: "dump:other" is not "dump:pg"`}},
		{"dump with a relative path and writes", edit(func(p *Plan) {
			job(p, "plex").Dumps = []Dump{{Name: "pg", Command: []string{"pg_dumpall"}, Filename: "../pg.sql", Tag: "dump:pg",
				Needs: Needs{User: "Postgres", Path: []string{"bin"}, Writes: []string{"/x"}}}}
		}), []string{`jobs[1].dumps[0].filename: `, `jobs[1].dumps[0].user: "Postgres" is not a user name`,
			`jobs[1].dumps[0].path[0]: `, `jobs[1].dumps[0].writes: are given, but a dump never writes files`}},
		{"needs of a hook the job lacks", edit(func(p *Plan) {
			job(p, "plex").Hooks.Needs = map[string]Needs{"pre_backup": {User: "postgres"}, "later": {Packages: []string{"a b"}}}
		}), []string{`jobs[1].hooks.needs["later"].packages[0]: `, `jobs[1].hooks.needs["later"]: names no hook`,
			`jobs[1].hooks.needs["pre_backup"]: is given for a hook the job does not have`}},
		{"job paths inside each other", edit(func(p *Plan) { job(p, "system").Paths = []string{"/home", "/home/x"} }),
			[]string{`jobs[2].paths[1]: "/home/x" comes after "/home"`}},
		{"an empty error log", edit(func(p *Plan) { p.Monitoring.ErrorLog = "" }),
			[]string{`monitoring.error_log: "" is not an absolute path`}},
		{"an error log that is a folder", edit(func(p *Plan) { p.Monitoring.ErrorLog = p.Paths.State }),
			[]string{`monitoring.error_log: "/var/lib/bakc" is a folder of the runtime`}},
		{"a relative state folder", edit(func(p *Plan) { p.Paths.State = "state" }),
			[]string{`paths.state: "state" is not an absolute path`}},
		{"a cache in the Nix store", edit(func(p *Plan) { p.Paths.Cache = "/nix/store/cache" }),
			[]string{`paths.cache: "/nix/store/cache" is in the Nix store`}},
		{"a relative docs folder", edit(func(p *Plan) { p.Paths.Docs = "backup-docs" }),
			[]string{`paths.docs: "backup-docs" is not an absolute path`}},
		{"a snapshot mode in capitals", edit(func(p *Plan) { job(p, "system").Snapshot = "ZFS" }),
			[]string{`jobs[2].snapshot: "ZFS" is not one of "none", "zfs"`}},
		{"a ZFS job without datasets", edit(func(p *Plan) { job(p, "system").Datasets = nil }),
			[]string{`jobs[2].datasets: are required for a ZFS snapshot job`}},
		{"a job dataset the node does not declare", edit(func(p *Plan) { job(p, "system").Datasets[0].Name = "rpool/other" }),
			[]string{`jobs[2].datasets[0]: rpool/other at "/home" is not one of node.datasets`}},
		{"a ZFS job path on none of its datasets", edit(func(p *Plan) { job(p, "system").Paths = []string{"/home", "/srv"} }),
			[]string{`jobs[2].paths[1]: "/srv" is on none of the job's datasets`}},
		{"restic reading an exclude size otherwise", edit(func(p *Plan) { job(p, "plex").ExcludeLargerThan = "0" }),
			[]string{`jobs[1].exclude_larger_than: "0" is not a size for restic`}},
		{"one_file_system leaving out a dataset of a ZFS job", edit(func(p *Plan) {
			alice := Dataset{Mountpoint: "/home/alice", Name: "rpool/safe/home/alice"}
			p.Node.Datasets = append(p.Node.Datasets, alice)
			slices.SortFunc(p.Node.Datasets, func(a, b Dataset) int { return strings.Compare(a.Mountpoint, b.Mountpoint) })
			j := job(p, "system")
			j.Datasets = []Dataset{j.Datasets[0], alice, j.Datasets[1]}
			j.OneFileSystem = true
		}), []string{`jobs[2].one_file_system: leaves out the dataset rpool/safe/home/alice mounted at "/home/alice"`}},
		{"a dataset name that looks like an option", edit(func(p *Plan) { p.Node.Datasets[0].Name = "-r" }),
			[]string{`node.datasets[0].name: "-r" is not a ZFS dataset name`}},
		{"an unknown repository kind", edit(func(p *Plan) { p.Repositories[1].Kind = "nfs4" }),
			[]string{`repositories[1].kind: "nfs4" is not one of`}},
		{"contradictory mount options", edit(func(p *Plan) { p.Repositories[1].NFS.Options = []string{"soft", "nfsvers=4.2", "hard"} }),
			[]string{`repositories[1].nfs.options: "hard" contradicts "soft"`}},
		{"an nfs mountpoint ending in a backslash", edit(func(p *Plan) {
			p.Repositories[1].NFS.Mountpoint = `/mnt/nas\`
			p.Repositories[1].URL = `/mnt/nas\`
		}),
			[]string{`repositories[1].nfs.mountpoint: "/mnt/nas\\" cannot be a mount unit's Where=`}},
		{"an nfs repository without its mount", edit(func(p *Plan) { p.Repositories[1].NFS = nil }),
			[]string{`repositories[1].nfs: is required for an nfs repository`}},
		{"an nfs URL that is not its mountpoint", edit(func(p *Plan) { p.Repositories[1].URL = "/mnt/elsewhere" }),
			[]string{`repositories[1].url: "/mnt/elsewhere" is not the NFS mountpoint "/mnt/nas"`}},
		{"a URL of another kind", edit(func(p *Plan) { p.Repositories[0].URL = "s3:host/bucket" }),
			[]string{`repositories[0].url: "s3:host/bucket" is not a restic URL of kind "b2"`}},
		{"a mountpoint on a URL repository", edit(func(p *Plan) { p.Repositories[0].Mountpoint = "/mnt" }),
			[]string{`repositories[0].mountpoint: is given, but the repository's kind is "b2"`}},
		{"a local repository outside its mountpoint", edit(func(p *Plan) {
			p.Repositories[0].Kind, p.Repositories[0].URL, p.Repositories[0].EnvironmentFile = KindLocal, "/mnt/usb2/restic", ""
			p.Repositories[0].Mountpoint = "/mnt/usb"
		}),
			[]string{`repositories[0].mountpoint: "/mnt/usb" is neither the repository's folder "/mnt/usb2/restic" nor a folder above it`}},
		{"a relative mountpoint", edit(func(p *Plan) {
			p.Repositories[0].Kind, p.Repositories[0].URL, p.Repositories[0].EnvironmentFile = KindLocal, "/mnt/usb/restic", ""
			p.Repositories[0].Mountpoint = "mnt/usb"
		}),
			[]string{`repositories[0].mountpoint: "mnt/usb" is not an absolute path`}},
		{"no password file", edit(func(p *Plan) { p.Repositories[0].PasswordFile = "" }),
			[]string{`repositories[0].password_file: "" is not an absolute path`}},
		{"a job writing to an unknown repository", edit(func(p *Plan) { job(p, "plex").Repositories = []string{"nope"} }),
			[]string{`jobs[1].repositories[0]: "nope" is not a repository of the plan`}},
		{"jobs out of order", edit(func(p *Plan) { p.Jobs[0], p.Jobs[1] = p.Jobs[1], p.Jobs[0] }),
			[]string{`jobs[1].name: "databases" comes after "plex"`}},
		{"a job tag of another job", edit(func(p *Plan) { job(p, "plex").JobTag = "job:system" }),
			[]string{`jobs[1].job_tag: "job:system" is not "job:plex"`}},
		{"a retention that keeps nothing", edit(func(p *Plan) { job(p, "plex").Retention = Retention{Within: "0d"} }),
			[]string{`jobs[1].retention: keeps nothing`}},
		{"an exclude with a line break", edit(func(p *Plan) { job(p, "plex").Exclude = []string{"a\n/home"} }),
			[]string{`jobs[1].exclude[0]: "a\n/home" holds a line break`}},
		{"an exclude restic refuses", edit(func(p *Plan) { job(p, "plex").Exclude = []string{"**/[ab"} }),
			[]string{`jobs[1].exclude[0]: "**/[ab" is not a valid restic pattern`}},
		{"a schedule systemd does not read", edit(func(p *Plan) { job(p, "plex").Schedule.Calendar = "every day" }),
			[]string{`jobs[1].schedule.calendar: "every day" is not a systemd calendar expression`}},
		{"an IO class in capitals", edit(func(p *Plan) { job(p, "plex").Resources.IOSchedulingClass = "Idle" }),
			[]string{`jobs[1].resources.io_scheduling_class: "Idle" is not one of`}},
		{"root as the backup user", edit(func(p *Plan) { p.User.UID = 0 }),
			[]string{`user.uid: 0 is root's id`}},
		{"a retention for a repository the job does not write", edit(func(p *Plan) {
			job(p, "system").RepositoryRetention = map[string]Retention{"cloud-secondary": {Daily: 1}}
		}), []string{`repository_retention["cloud-secondary"]: "cloud-secondary" is not a repository of the job`}},
		{"a repository's retention the job does not apply", edit(func(p *Plan) {
			for i := range p.Repositories {
				if p.Repositories[i].Name == "nas-primary" {
					p.Repositories[i].Retention = &Retention{Daily: 3}
				}
			}
		}), []string{`has no entry for repository "nas-primary", whose own retention applies there`}},
		{"a job of default repositories writing to one that is not", edit(func(p *Plan) {
			f := false
			for i := range p.Repositories {
				if p.Repositories[i].Name == "nas-primary" {
					p.Repositories[i].Default = &f
				}
			}
			job(p, "plex").DefaultRepositories = true
			job(p, "plex").Repositories = []string{"nas-primary"}
		}), []string{`"nas-primary" has default = false, but the job lists no repositories of its own`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.mutate(t, readExample(t))
			_, err := Decode(strings.NewReader(string(data)))
			require.Error(t, err, "the plan was accepted:\n%s", data)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestValidateReportsEveryProblem: one run names every wrong field, so
// that a damaged plan is mended in one go.
func TestValidateReportsEveryProblem(t *testing.T) {
	p, err := Decode(strings.NewReader(string(readExample(t))))
	require.NoError(t, err)
	p.Paths.State = "relative"
	p.Jobs[0].Snapshot = "ZFS"
	err = p.Validate()
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	var fields []string
	for _, e := range inv.Problems {
		var fe *FieldError
		require.ErrorAs(t, e, &fe)
		fields = append(fields, fe.Field)
	}
	require.Equal(t, []string{"paths.state", "jobs[0].snapshot"}, fields)
}

// TestEveryFieldHasARule: every field of the plan has a row in
// fieldRules, and every row names a field. A field added to the plan
// without one fails here: say what the runtime may trust about it (an
// empty row says "anything").
func TestEveryFieldHasARule(t *testing.T) {
	fields := typeFields(reflect.TypeFor[Plan](), "")
	var missing, stale []string
	for _, f := range fields {
		if _, ok := fieldRules[f]; !ok {
			missing = append(missing, f)
		}
	}
	for f := range fieldRules {
		if !slices.Contains(fields, f) {
			stale = append(stale, f)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	require.Empty(t, missing, "fields of the plan without a row in fieldRules (compiler/plan/validate.go)")
	require.Empty(t, stale, "rows of fieldRules that name no field of the plan")
}

// typeFields lists the patterns of every field inside typ, as walk
// names them.
func typeFields(typ reflect.Type, pattern string) []string {
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []string
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			if inlined(typ.Field(i)) {
				out = append(out, typeFields(typ.Field(i).Type, pattern)...)
				continue
			}
			name := jsonName(typ.Field(i))
			if name == "" {
				continue
			}
			p := join(pattern, name)
			out = append(out, p)
			out = append(out, typeFields(typ.Field(i).Type, p)...)
		}
	case reflect.Slice:
		p := pattern + "[]"
		out = append(out, p)
		out = append(out, typeFields(typ.Elem(), p)...)
	case reflect.Map:
		p := pattern + "{}"
		out = append(out, p)
		out = append(out, typeFields(typ.Elem(), p)...)
	}
	return out
}
