package emitfuzz

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/nas"
	"github.com/holthome/bakc/emit/nixos"
	"github.com/holthome/bakc/emit/runbook"
	"github.com/holthome/bakc/emit/unitfile"
	"github.com/holthome/bakc/internal/testenv"
)

// hostileClasses are the classes of strings that break an output when
// they reach it unescaped (issue 9, "Done when").
var hostileClasses = []struct{ name, value string }{
	{"quotes", `it's "q"`},
	{"dollar", `$HOME${x}`},
	{"backtick", "`id`"},
	{"percent", `100%n`},
	{"newline", "a\nb"},
	{"CR", "a\rb"},
	{"NUL", "a\x00b"},
	{"non-UTF-8", "a\xffb"},
	{"leading dash", "-rf"},
	{"trailing backslash", `a\`},
	{"very long", strings.Repeat("long", 1100)},
}

// hostileField is a field of the language that reaches an output: how
// a hostile value is put into it (carry: a path needs a folder around
// it), and where each consumer that reads the field finds it back.
type hostileField struct {
	slot  string
	carry func(v string) string
	// plan is the field's value in a plan.
	plan func(p *plan.Plan) string
	// systemd is what systemd itself read for the field, from the units
	// loaded with systemd --test; nil when no unit holds the field.
	systemd func(d map[string]testenv.DumpedUnit) []string
	// runbook is the restore block of the runbook that names the field
	// ("### Restore job `www` from `local`"), whose arguments, run with
	// sh against stand-in programs, must hold the value; "" when the
	// runbook's commands do not hold it.
	runbook string
	// runbookAs is how the runbook's commands write the value, when not
	// as itself (a sops key as sops's --extract index).
	runbookAs func(v string) string
	// nix are the strings backup.nix, evaluated by nix-instantiate, has
	// for the field (beside the plan it installs); nil when none.
	nix func(t *testing.T, module map[string]any) []string
	// nas is the field's value in the NAS's plan, and nasNix the strings
	// the NAS's NixOS configuration, evaluated, has for it: fields of
	// the NAS's side of replication.
	nas    func(p *plan.NASPlan) string
	nasNix func(module map[string]any) []string
}

func path(v string) string { return "/srv/www/" + v }

var hostileFields = []hostileField{
	{slot: "job.description", carry: func(v string) string { return v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Description },
		systemd: func(d map[string]testenv.DumpedUnit) []string {
			return trimPrefixes(d["bakc-backup-www.service"]["Description"], "bakc backup www: ")
		}},
	{slot: "job.paths[0]", carry: path,
		plan:    func(p *plan.Plan) string { return p.Jobs[1].Paths[0] },
		runbook: "### Restore job `www` from `local`"},
	{slot: "repo.local.path", carry: func(v string) string { return "/data/restic-" + v },
		plan: func(p *plan.Plan) string { r, _ := p.Repository("local"); return r.URL },
		systemd: func(d map[string]testenv.DumpedUnit) []string {
			return d["bakc-backup-www.service"]["ReadWritePaths"]
		},
		runbook: "### Restore job `www` from `local`"},
	{slot: "repo.nfs.mountpoint", carry: func(v string) string { return "/mnt/nas-" + v },
		plan: func(p *plan.Plan) string { r, _ := p.Repository("nas"); return r.NFS.Mountpoint },
		systemd: func(d map[string]testenv.DumpedUnit) []string {
			return d["bakc-backup-www.service"]["ReadWritePaths"]
		},
		runbook: "### Restore job `www` from `nas`"},
	{slot: "repo.nfs.password_file", carry: func(v string) string { return "/run/secrets/" + v },
		plan:    func(p *plan.Plan) string { r, _ := p.Repository("local"); return r.PasswordFile },
		runbook: "### Restore job `www` from `local`"},
	{slot: "job.pre_backup", carry: func(v string) string { return "echo " + v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Hooks.PreBackup }},
	{slot: "dump.command[1]", carry: func(v string) string { return v },
		plan: func(p *plan.Plan) string { return p.Jobs[0].Dumps[0].Command[1] }},
	{slot: "job.tags[0]", carry: func(v string) string { return v },
		plan: func(p *plan.Plan) string {
			for _, tag := range p.Jobs[1].Tags { // sorted, with the job's own
				if tag != p.Jobs[1].JobTag {
					return tag
				}
			}
			return ""
		}},
	{slot: "job.exclude[0]", carry: func(v string) string { return "**/" + v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Exclude[1] }},
	{slot: "job.name", carry: func(v string) string { return v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Name }},
	{slot: "hostfile", carry: func(v string) string { return v + ".hcl" },
		plan: func(p *plan.Plan) string { return strings.TrimPrefix(p.Source, "hosts/") }},
	// The runbook's folder: tmpfiles lines (emit/unitfile TestHostile
	// runs systemd-tmpfiles on hostile ones) and backup.nix's.
	{slot: "defaults.paths.docs", carry: func(v string) string { return "/srv/docs-" + v },
		plan: func(p *plan.Plan) string { return p.Paths.Docs },
		nix: func(t *testing.T, m map[string]any) []string {
			return tmpfilesCreated(t, nixStrings(dig(m, "systemd", "tmpfiles", "rules")), "/srv")
		}},
	// Notifications: read by the runtime from the installed plan (it
	// runs the command without a shell, sends to the URL).
	{slot: "notify.ping_url", carry: func(v string) string { return "https://hc-ping.example.net/" + v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Notify.PingURL }},
	{slot: "notify.failure_command[1]", carry: func(v string) string { return v },
		plan: func(p *plan.Plan) string { return p.Jobs[1].Notify.FailureCommand[1] }},
	// A sops secret: the declaration sops-nix reads, and the runbook's
	// commands that decrypt it by hand.
	{slot: "sops.key", carry: func(v string) string { return "restic/" + v },
		plan: func(p *plan.Plan) string { return p.Secrets[0].Sops.Key },
		nix: func(_ *testing.T, m map[string]any) []string {
			return nixStrings(dig(m, "sops", "secrets", "bakc/cloud/password", "key"))
		},
		runbook: "## Secrets bootstrap on a fresh host", runbookAs: plan.SopsIndex},
	{slot: "sops.file", carry: func(v string) string { return "secrets/" + v + ".yaml" },
		plan: func(p *plan.Plan) string { return p.Secrets[0].Sops.File },
		nix: func(_ *testing.T, m map[string]any) []string {
			return trimPrefixes(nixStrings(dig(m, "sops", "secrets", "bakc/cloud/password", "sopsFile")), "/stand-in/fleet/")
		},
		runbook: "## Secrets bootstrap on a fresh host"},
	// Replication: the NAS's key in the node's authorized_keys, the
	// node's host key and the NAS's key file on the NAS.
	{slot: "nas.replication.public_key", carry: func(v string) string { return slots[slotIndex("nas.replication.public_key")].value + " " + v },
		plan: func(p *plan.Plan) string { return p.Replication.PublicKey },
		nix: func(_ *testing.T, m map[string]any) []string {
			return nixStrings(dig(m, "users", "users", "bakc-send", "openssh", "authorizedKeys", "keys"))
		}},
	{slot: "node.zfs.host_key", carry: func(v string) string { return slots[slotIndex("node.zfs.host_key")].value + " " + v },
		nas: func(p *plan.NASPlan) string { return p.Nodes[0].Replication.HostKey },
		nasNix: func(m map[string]any) []string {
			// The known_hosts line "web <key>\n", written into the
			// UserKnownHostsFile argument (writeText stands in as the
			// text itself).
			var out []string
			for _, a := range nixStrings(dig(m, "services", "syncoid", "commands", "bakc-web-tank-srv", "extraArgs")) {
				if line, ok := strings.CutPrefix(a, "UserKnownHostsFile=web "); ok {
					out = append(out, strings.TrimSuffix(line, "\n"))
				}
			}
			return out
		}},
	{slot: "nas.replication.identity_file", carry: func(v string) string { return "/run/secrets/" + v },
		nas: func(p *plan.NASPlan) string { return p.Replication.IdentityFile },
		nasNix: func(m map[string]any) []string {
			return nixStrings(dig(m, "services", "syncoid", "commands", "bakc-web-tank-srv", "sshKey"))
		}},
}

// tmpfilesCreated runs the real systemd-tmpfiles --create on rules under
// a scratch root and returns what it made in the folder dir (one level),
// as paths on the node. A rule of a user the scratch root lacks fails
// alone; tmpfiles goes on with the others.
func tmpfilesCreated(t *testing.T, rules []string, dir string) []string {
	t.Helper()
	tmpfiles := testenv.LookPath(t, "systemd-tmpfiles")
	testenv.Root(t)
	root := t.TempDir()
	cmd := exec.Command(tmpfiles, "--root="+root, "--create", "-")
	cmd.Stdin = strings.NewReader(strings.Join(rules, "\n") + "\n")
	out, _ := cmd.CombinedOutput()
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		t.Logf("systemd-tmpfiles made nothing in %s: %s", dir, out)
		return nil
	}
	var made []string
	for _, e := range entries {
		made = append(made, filepath.Join(dir, e.Name()))
	}
	return made
}

// dig is the value at a path of attribute names in an evaluated
// module, nil when there is none.
func dig(v any, names ...string) any {
	for _, n := range names {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[n]
	}
	return v
}

// nixStrings: a string, or a list's strings.
func nixStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, nixStrings(e)...)
		}
		return out
	}
	return nil
}

// readsAs: what a consumer read (an argument, a setting's value as
// systemd dumps it: a list of paths joined by spaces, optional ones with
// "-") holds value whole.
func readsAs(got, value string) bool {
	return got == value || strings.HasSuffix(got, "="+value) ||
		strings.Contains(" "+got+" ", " "+value+" ") || strings.Contains(" "+got+" ", " -"+value+" ")
}

func trimPrefixes(vs []string, prefix string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.TrimPrefix(v, prefix)
	}
	return out
}

// TestHostileStrings is the matrix of the "Done when": every
// class of hostile string in every field that reaches an output. For
// each (class, field) row bakc either refuses the configuration with a
// diagnostic that points into the file, or every consumer that reads
// the field reads back the original value:
//
//   - plan: the runtime's reader (plan.Decode, strict and validating);
//
//   - nix: backup.nix evaluated by nix-instantiate, the plan it installs
//     (environment.etc) decoded again;
//
//   - systemd: the units loaded by systemd's own parser (systemd --test);
//
//   - runbook sh: the runbook's restore commands run by sh with stand-in
//     programs that record their arguments.
//
//   - nix value: a value backup.nix sets from the field (a sops-nix
//     declaration, the replication user's authorized_keys), evaluated;
//
//   - NAS plan and NAS nix: the NAS's side of replication (its key file,
//     a node's host key in its known_hosts), the NAS plan and the NAS's
//     NixOS configuration evaluated;
//
//   - restic: an exclude pattern, written into the exclude file as the
//     runtime writes it, read by restic 0.14 and 0.18.1 during a real
//     backup that must leave out exactly the file the pattern names.
//
// The NAS
// script (sh) carries ZFS property values and key comments, proven with
// real zfs-fuse in emit/nas TestHostileValuesNeverRun.
func TestHostileStrings(t *testing.T) {
	nix := testenv.NixInstantiate(t)
	sh := testenv.LookPath(t, "sh")
	for _, class := range hostileClasses {
		for _, field := range hostileFields {
			t.Run(class.name+"/"+field.slot, func(t *testing.T) {
				value := field.carry(class.value)
				f := baseFleet()
				f[field.slot] = value
				if class.name == "non-UTF-8" && field.slot != "hostfile" {
					// cty and hclwrite hold only UTF-8: the bytes go
					// into the file as a user's editor would put them.
					f[field.slot] = field.carry(rawMarker)
					f[rawKey] = class.value
				}
				if field.slot == "job.name" {
					// The job's name is also where rows find the job.
					t.Skip("a job name becomes a unit name: letters, digits and _.:- only; refusal checked below")
				}
				c, diags := compileRow(t, f)
				if c == nil {
					requireLocated(t, diags, value)
					return
				}
				got := map[string][]string{}
				data, err := plan.Marshal(c.plan)
				require.NoError(t, err)
				back, err := plan.Decode(bytes.NewReader(data))
				require.NoError(t, err, "the runtime refuses the plan the compiler wrote")
				module := nixModule(t, nix, c.plan)
				if field.plan != nil {
					got["plan"] = []string{field.plan(c.plan)}
					got["plan (runtime)"] = []string{field.plan(back)}
					got["nix"] = []string{field.plan(nixPlan(t, module, c.plan))}
				}
				if field.nix != nil {
					got["nix value"] = field.nix(t, module)
				}
				if field.nas != nil {
					require.Len(t, c.nas, 1, "the NAS's plan")
					got["NAS plan"] = []string{field.nas(c.nas[0])}
					got["NAS nix"] = field.nasNix(nasModule(t, nix, c.nas[0]))
				}
				if field.systemd != nil {
					got["systemd"] = field.systemd(systemdUnits(t, c.plan))
				}
				if field.runbook != "" {
					want := value
					if field.runbookAs != nil {
						want = field.runbookAs(value)
					}
					args := runbookArgs(t, sh, c.plan, field.runbook)
					if !slices.ContainsFunc(args, func(s string) bool { return readsAs(s, want) }) {
						t.Errorf("runbook sh reads %q back as %q", want, args)
					}
				}
				if field.slot == "job.exclude[0]" {
					for version, res := range resticExcludes(t, field.plan(back), class.value) {
						if res != "excluded" {
							t.Errorf("restic %s, exclude %q: %s", version, value, res)
						}
					}
				}
				for consumer, vals := range got {
					if !slices.ContainsFunc(vals, func(s string) bool { return readsAs(s, value) }) {
						t.Errorf("%s reads %q back as %q", consumer, value, vals)
					}
				}
			})
		}
	}
	// A job name is a unit name: every class is refused, located.
	for _, class := range hostileClasses {
		f := baseFleet()
		f["job.name"] = class.value
		if class.name == "non-UTF-8" {
			f["job.name"] = rawMarker
			f[rawKey] = class.value
		}
		c, diags := compileRow(t, f)
		require.Nil(t, c, "job name %q accepted", class.value)
		requireLocated(t, diags, class.value)
	}
}

// compileRow compiles a fleet and returns it, or the diagnostics that
// refused it. A host file name this file system cannot hold is a
// diagnostic-free refusal by the file system itself: nil, nil.
func compileRow(t *testing.T, f fleet) (*compiled, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	host, err := f.write(dir)
	if host == "" || err != nil {
		return nil, nil
	}
	fl, diags := compiler.LoadNodeFile(host)
	if diags.HasErrors() {
		return nil, diags
	}
	p, d := fl.Plan(fl.NodeNames()[0])
	if d.HasErrors() {
		return nil, append(diags, d...)
	}
	c := &compiled{plan: p}
	for _, name := range fl.NASNames() {
		np, d := fl.NASPlan(name)
		if d.HasErrors() {
			return nil, append(diags, d...)
		}
		c.nas = append(c.nas, np)
	}
	return c, nil
}

// requireLocated: refused with an error that points into a file.
func requireLocated(t *testing.T, diags hcl.Diagnostics, value string) {
	t.Helper()
	if diags == nil {
		t.Logf("%q: not a file name this file system can hold", value)
		return
	}
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			require.NotNil(t, d.Subject, "%s: %s", d.Summary, d.Detail)
			require.Greater(t, d.Subject.Start.Line, 0)
			t.Logf("refused: %s (%s:%d)", d.Summary, filepath.Base(d.Subject.Filename), d.Subject.Start.Line)
			return
		}
	}
	t.Fatalf("no error")
}

// nixModule evaluates backup.nix with nix-instantiate, strictly, against
// stand-in arguments.
func nixModule(t *testing.T, nix string, p *plan.Plan) map[string]any {
	t.Helper()
	module, err := nixos.Render(p)
	require.NoError(t, err)
	return nixEvaluate(t, nix, module, nixStandIns)
}

// nasModule evaluates the NAS's NixOS configuration (bakc nas-plan
// --format nix) the same way; writeText stands in as its text, so that
// a file's content is a value here, and writeShellScriptBin (the syncoid
// wrapper that runs bakc run replicate) as its name and text, with
// lib.escapeShellArgs quoting every word.
func nasModule(t *testing.T, nix string, p *plan.NASPlan) map[string]any {
	t.Helper()
	module, err := nas.Nix(p)
	require.NoError(t, err)
	return nixEvaluate(t, nix, module, `{ config = { boot.zfs.package = "/stand-in/zfs"; }; pkgs = { gawk = "/stand-in/gawk"; bakc = "/stand-in/bakc"; sanoid = "/stand-in/sanoid"; writeText = name: text: text; writeShellScriptBin = name: text: { inherit name text; }; }; lib = { mkForce = content: { _type = "override"; priority = 50; inherit content; }; mkAfter = content: { _type = "order"; priority = 1500; inherit content; }; escapeShellArgs = args: builtins.concatStringsSep " " (map (a: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] a + "'") args); }; }`)
}

func nixEvaluate(t *testing.T, nix string, module []byte, args string) map[string]any {
	t.Helper()
	file := filepath.Join(t.TempDir(), "module.nix")
	require.NoError(t, os.WriteFile(file, module, 0o644))
	out, err := exec.Command(nix, "--eval", "--strict", "--json", "--expr", "import "+file+" "+args).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	return m
}

// nixPlan decodes the plan an evaluated backup.nix installs under
// environment.etc.
func nixPlan(t *testing.T, module map[string]any, p *plan.Plan) *plan.Plan {
	t.Helper()
	text, _ := dig(module, "environment", "etc", strings.TrimPrefix(p.Paths.Plan, "/etc/"), "source", "text").(string)
	back, err := plan.Decode(strings.NewReader(text))
	require.NoError(t, err)
	return back
}

// systemdUnits writes the unit files and loads them with systemd's own
// parser.
func systemdUnits(t *testing.T, p *plan.Plan) map[string]testenv.DumpedUnit {
	t.Helper()
	files, err := unitfile.Render(p, unitfile.DefaultProgram)
	require.NoError(t, err)
	dir := t.TempDir()
	for _, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644))
	}
	return testenv.SystemdDump(t, dir, "bakc-backup-www.service")
}

// fenceRE finds a runbook's shell blocks after a heading.
var fenceRE = regexp.MustCompile("(?s)(`{3,})sh\n(.*?)\n(`{3,})\n")

// runbookArgs runs the runbook's restore commands under heading with sh,
// against stand-ins for every program they start, and returns every
// argument those programs got.
func runbookArgs(t *testing.T, sh string, p *plan.Plan, heading string) []string {
	t.Helper()
	md, err := runbook.Render(p, runbook.Options{})
	require.NoError(t, err)
	text := string(md)
	i := strings.Index(text, heading+"\n")
	require.GreaterOrEqual(t, i, 0, "no %q in the runbook", heading)
	section := text[i:]
	for _, next := range []string{"\n### ", "\n## "} {
		if j := strings.Index(section[1:], next); j >= 0 {
			section = section[:j+1]
		}
	}
	var script strings.Builder
	for _, m := range fenceRE.FindAllStringSubmatch(section, -1) {
		script.WriteString(m[2] + "\n")
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "args")
	for _, prog := range []string{"restic", "setpriv", "systemd-run", "mount", "mountpoint", "mkdir", "sops", "chown", "chmod"} {
		stub := "#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\0' \"$a\"; done >> " + log + "\n"
		if prog == "setpriv" || prog == "systemd-run" {
			// Run what they were given to run, as they would.
			stub += "while [ $# -gt 0 ]; do case \"$1\" in -*) shift;; *) break;; esac; done\nexec \"$@\"\n"
		}
		if prog == "mountpoint" {
			stub += "exit 1\n"
		}
		require.NoError(t, os.WriteFile(filepath.Join(bin, prog), []byte(stub), 0o755))
	}
	cmd := exec.Command(sh, "-c", script.String())
	if strings.Contains(script.String(), "/run/") {
		// The secrets' commands write below /run: they run in a mount
		// namespace of their own, on a tmpfs over /run.
		if os.Geteuid() != 0 {
			t.Skip("the runbook's secrets commands write below /run: root only")
		}
		cmd = exec.Command("unshare", "--mount", "--propagation", "private", sh, "-c",
			`mount -t tmpfs tmpfs /run && exec "$0" -c "$1"`, sh, script.String())
	}
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", out, script.String())
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}
