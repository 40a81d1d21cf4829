package compiler

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/schema"
)

// hookNames are the labels a hook block may have.
var hookNames = []string{plan.HookPreBackup, plan.HookPostBackup, plan.HookOnFailure}

// step is a hook or a dump as the checks see it: its command, what it
// declares, and where it was written.
type step struct {
	// what names it in messages: `the pre_backup hook`, `the dump "pg"`.
	what string
	// script is a hook's command, run with sh -c; argv a dump's.
	script string
	argv   []string
	rng    hcl.Range
	needs  plan.Needs
	// block is false for a hook written as an attribute, which can
	// declare nothing: the messages then say to write it as a block.
	block bool
	hook  string
}

// lowerHooks lowers a job's hooks, written as attributes (pre_backup =
// "…", as ever) or as blocks with what they need, into out.Hooks. It
// returns the steps for checkSteps.
func lowerHooks(j *schema.Job, out *plan.Job) ([]step, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	attrs := map[string]*schema.Text{
		plan.HookPreBackup: j.PreBackup, plan.HookPostBackup: j.PostBackup, plan.HookOnFailure: j.OnFailure,
	}
	dst := map[string]*string{
		plan.HookPreBackup: &out.Hooks.PreBackup, plan.HookPostBackup: &out.Hooks.PostBackup, plan.HookOnFailure: &out.Hooks.OnFailure,
	}
	var steps []step
	for _, name := range hookNames {
		if t := attrs[name]; t != nil {
			*dst[name] = t.Value
			if t.Value != "" {
				steps = append(steps, step{what: "the " + name + " hook", script: t.Value, rng: t.Range, hook: name})
			}
		}
	}
	blocks := map[string]*schema.Hook{}
	for _, h := range j.Hooks {
		if !contains(hookNames, h.Name) {
			diags = append(diags, errorAt(h.NameRange, "Unknown hook",
				"A job has no hook %q; its hooks are %s.%s", h.Name, quotedList(hookNames), didYouMean(h.Name, hookNames)))
			continue
		}
		if t := attrs[h.Name]; t != nil {
			diags = append(diags, errorAt(h.NameRange, "Duplicate hook",
				"The job already sets %s as an attribute, at %s. Keep one: move the command into this block and remove the attribute.", h.Name, at(t.Range)))
			continue
		}
		if prev := blocks[h.Name]; prev != nil {
			diags = append(diags, errorAt(h.NameRange, "Duplicate hook",
				"The job already has a hook %q block, at %s. Merge the two into one.", h.Name, at(prev.DeclRange)))
			continue
		}
		blocks[h.Name] = h
		if h.Command == nil {
			continue // "Missing required argument", from decoding
		}
		if strings.TrimSpace(h.Command.Value) == "" {
			diags = append(diags, errorAt(h.Command.Range, "Empty hook command",
				"The %s hook's command is empty, so the hook would do nothing. Write the command, or remove the block.", h.Name))
			continue
		}
		needs, d := lowerNeeds(h.StepNeeds)
		diags = append(diags, d...)
		*dst[h.Name] = h.Command.Value
		if !needsEmpty(needs) {
			if out.Hooks.Needs == nil {
				out.Hooks.Needs = map[string]plan.Needs{}
			}
			out.Hooks.Needs[h.Name] = needs
		}
		steps = append(steps, step{what: "the " + h.Name + " hook", script: h.Command.Value, rng: h.Command.Range, needs: needs, block: true, hook: h.Name})
	}
	return steps, diags
}

func needsEmpty(n plan.Needs) bool {
	return n.User == "" && len(n.Packages) == 0 && len(n.Path) == 0 && len(n.Writes) == 0
}

// lowerDumps lowers a job's dump blocks, sorted by name.
func lowerDumps(j *schema.Job, out *plan.Job) ([]step, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var steps []step
	byName := map[string]*schema.Dump{}
	byFile := map[string]*schema.Dump{}
	for _, d := range j.Dumps {
		dd := checkName(d.Name, d.NameRange, "dump")
		diags = append(diags, dd...)
		if dd.HasErrors() {
			continue
		}
		if prev := byName[d.Name]; prev != nil {
			diags = append(diags, errorAt(d.NameRange, "Duplicate dump",
				"The job already has a dump named %q, at %s. Dump names tag their snapshots, so they must be unique in a job: rename one.", d.Name, at(prev.DeclRange)))
			continue
		}
		byName[d.Name] = d
		if d.Command == nil {
			continue // "Missing required argument", from decoding
		}
		if len(d.Command.Items) == 0 || d.Command.Items[0].Value == "" {
			diags = append(diags, errorAt(d.Command.Range, "Empty dump command",
				"The dump %q has no program to run. Write its command as a list of words, such as [\"pg_dumpall\"]; for a shell pipeline, [\"sh\", \"-c\", \"…\"].", d.Name))
			continue
		}
		filename, fileRange := d.Name, d.NameRange
		if d.Filename != nil {
			filename, fileRange = d.Filename.Value, d.Filename.Range
		}
		if err := checkDumpFilename(filename); err != "" {
			diags = append(diags, errorAt(fileRange, "Invalid dump filename",
				"The dump's filename %q %s. Write a relative path such as \"postgresql/all.sql\"; restic stores the dump as /<filename> in its snapshot.", filename, err))
			continue
		}
		if prev := byFile[filename]; prev != nil {
			diags = append(diags, errorAt(fileRange, "Duplicate dump filename",
				"The dump %q has the same filename as the dump %q, at %s, so a restore by path could not tell them apart. Give each dump its own filename.", d.Name, prev.Name, at(prev.DeclRange)))
			continue
		}
		byFile[filename] = d
		needs, nd := lowerNeeds(d.StepNeeds)
		diags = append(diags, nd...)
		dump := plan.Dump{
			Name:     d.Name,
			Command:  d.Command.Values(),
			Filename: filename,
			Tag:      plan.DumpTagPrefix + d.Name,
			Needs:    needs,
		}
		if d.RestoreCommand != nil {
			if len(d.RestoreCommand.Items) == 0 || d.RestoreCommand.Items[0].Value == "" {
				diags = append(diags, errorAt(d.RestoreCommand.Range, "Empty restore command",
					"The dump %q has an empty restore_command. Write the command the runbook pipes the dump into, such as [\"psql\", \"-d\", \"postgres\"], or remove it.", d.Name))
			} else {
				dump.RestoreCommand = d.RestoreCommand.Values()
			}
		}
		out.Dumps = append(out.Dumps, dump)
		steps = append(steps, step{what: fmt.Sprintf("the dump %q", d.Name), argv: dump.Command, rng: d.Command.Range, needs: needs, block: true})
	}
	sort.Slice(out.Dumps, func(a, b int) bool { return out.Dumps[a].Name < out.Dumps[b].Name })
	return steps, diags
}

// checkDumpFilename says what is wrong with a dump's filename, or "":
// plan.CheckDumpFilename, which Validate applies too.
func checkDumpFilename(f string) string {
	if err := plan.CheckDumpFilename(f); err != nil {
		return err.Error()
	}
	return ""
}

// lowerNeeds checks what a hook or dump declares it needs.
func lowerNeeds(n schema.StepNeeds) (plan.Needs, hcl.Diagnostics) {
	var out plan.Needs
	var diags hcl.Diagnostics
	if n.User != nil {
		if plan.CheckUserName(n.User.Value) != nil {
			diags = append(diags, errorAt(n.User.Range, "Invalid user name",
				"The user %q cannot be used: it must start with a lowercase letter or \"_\", hold only lowercase letters, digits, \"_\" and \"-\", and have at most 31 characters. Write the name of a user of the node, such as \"postgres\".", n.User.Value))
		} else {
			out.User = n.User.Value
		}
	}
	if n.Packages != nil {
		for _, it := range n.Packages.Items {
			if err := units.CheckPackage(it.Value); err != nil {
				diags = append(diags, errorAt(it.Range, "Invalid package name",
					"The package %s. backup.nix puts pkgs.<name> on the service's path: write a Nix attribute name such as \"postgresql\" or \"python3Packages.psycopg\".", err))
				continue
			}
			out.Packages = append(out.Packages, it.Value)
		}
		sort.Strings(out.Packages)
		out.Packages = dedupe(out.Packages)
	}
	if n.Path != nil {
		for _, it := range n.Path.Items {
			if d := checkAbsPath(&it, "PATH folder"); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			if strings.Contains(it.Value, ":") {
				diags = append(diags, errorAt(it.Range, "Invalid path",
					"The PATH folder %q holds a colon, which separates the folders of PATH. Choose a folder without one, or link the program from one.", it.Value))
				continue
			}
			// The order is PATH's: kept as written.
			out.Path = append(out.Path, it.Value)
		}
		out.Path = dedupe(out.Path)
	}
	if n.Writes != nil {
		for _, it := range n.Writes.Items {
			if d := checkAbsPath(&it, "written path"); d.HasErrors() {
				diags = append(diags, d...)
				continue
			}
			if it.Value == "/" || isUnder(it.Value, nixStore) {
				diags = append(diags, errorAt(it.Range, "Invalid written path",
					"The hook cannot be allowed to write %q: that would make %s writable for the whole backup service. Declare the folder the hook writes to, such as \"/var/lib/postgresql/dumps\".", it.Value, map[bool]string{true: "the whole file system", false: "the Nix store"}[it.Value == "/"]))
				continue
			}
			out.Writes = append(out.Writes, it.Value)
		}
		sort.Strings(out.Writes)
		out.Writes = dedupe(out.Writes)
	}
	return out, diags
}

// alwaysWritable are the places a hook may write whatever the unit's
// ReadWritePaths= say: the service's private /tmp and /var/tmp
// (PrivateTmp=yes), devices such as /dev/null and /dev/stderr, and its
// own file descriptors.
var alwaysWritable = []string{"/dev", "/proc/self/fd", "/tmp", "/var/tmp"}

// checkSteps checks what can be known before a run about the job's hooks
// and dumps: that their commands parse, that they write only where the
// service lets them, that they do not try sudo, and that their programs
// are on the service's PATH.
func (s *nodeScope) checkSteps(job *plan.Job, steps []step) hcl.Diagnostics {
	p := &plan.Plan{Paths: s.paths, Monitoring: s.monitoring, User: s.id.user}
	for _, name := range job.Repositories {
		if r := s.lowered[name]; r != nil {
			p.Repositories = append(p.Repositories, *r)
		}
	}
	writable := append(units.JobWritablePaths(p, job), alwaysWritable...)
	var diags hcl.Diagnostics
	for _, st := range steps {
		script := st.script
		if st.argv != nil {
			if found := argvSecrets(st.argv); len(found) > 0 && shellScriptOf(st.argv) == "" {
				diags = append(diags, secretInStep(st, found, true))
			}
			script = shellScriptOf(st.argv)
			d, u := s.checkProgram(job, st, st.argv[0], 0, 0, false)
			diags = append(diags, d...)
			if script == "" {
				if u != "" {
					diags = append(diags, notOnPath(st, []string{u})...)
				}
				continue
			}
		}
		facts, err := analyzeShell(script)
		if err != nil {
			diags = append(diags, errorAt(st.rng, "Invalid hook command",
				"%s is not valid shell: %s. It is run with sh -c; fix the syntax.", capitalize(st.what), err))
			continue
		}
		if len(facts.Secrets) > 0 {
			diags = append(diags, secretInStep(st, facts.Secrets, false))
		}
		var outside []string
		var first string
		for _, w := range facts.Writes {
			if anyUnder(w.Path, writable) {
				continue
			}
			if first == "" {
				first = w.Path
			}
			outside = append(outside, fmt.Sprintf("%s (`%s`, line %d, column %d of the command)", w.Path, w.How, w.Line, w.Col))
		}
		if len(outside) > 0 {
			diags = append(diags, errorAt(st.rng, "Hook writes outside its writable paths",
				"%s writes to %s, but its service sees the file system read-only (ProtectSystem=strict) except %s, so it would fail with \"Read-only file system\". %s",
				capitalize(st.what), strings.Join(outside, "; "), strings.Join(writable, ", "), writesFix(st, first)))
		}
		var unknown []string
		for _, c := range facts.Commands {
			d, u := s.checkProgram(job, st, c.Name, c.Line, c.Col, true)
			diags = append(diags, d...)
			if u != "" {
				unknown = append(unknown, u)
			}
		}
		diags = append(diags, notOnPath(st, unknown)...)
	}
	return diags
}

// shellScriptOf returns the script of a dump written as [sh|bash, -c,
// script, …], or "".
func shellScriptOf(argv []string) string {
	if len(argv) >= 3 && (path.Base(argv[0]) == "sh" || path.Base(argv[0]) == "bash") && argv[1] == "-c" {
		return argv[2]
	}
	return ""
}

// checkProgram checks one program a step runs: an error when it is a
// way to gain privileges the service cannot give, and, when it is not on
// the service's PATH as far as bakc knows it, its description for
// notOnPath. inShell says name is a command word of a shell script,
// where builtins are not looked up in PATH.
func (s *nodeScope) checkProgram(job *plan.Job, st step, name string, line, col uint, inShell bool) (hcl.Diagnostics, string) {
	where := ""
	if line > 0 {
		where = fmt.Sprintf(" (line %d, column %d of the command)", line, col)
	}
	if inShell && shellBuiltins[name] || strings.Contains(name, "/") {
		return nil, ""
	}
	runsAsRoot := st.needs.User == "root" || st.needs.User == "" && st.hook != "" && job.Snapshot == plan.SnapshotZFS
	if privilegeCommands[name] && !runsAsRoot {
		return hcl.Diagnostics{errorAt(st.rng, "Privilege escalation in a hook",
			"%s runs %s%s, which cannot work in a bakc service: NoNewPrivileges=yes stops every setuid program from raising privileges. Say which user the command runs as instead: user = \"postgres\" in %s.",
			capitalize(st.what), name, where, blockWords(st))}, ""
	}
	if len(st.needs.Packages) > 0 || len(st.needs.Path) > 0 {
		// It may come from them; bakc cannot see into a package.
		return nil, ""
	}
	if defaultServiceCommands[name] || job.Snapshot == plan.SnapshotZFS && zfsCommands[name] {
		return nil, ""
	}
	return nil, name + where
}

// notOnPath is the warning about a step's programs that bakc does not
// know to be on its service's PATH.
func notOnPath(st step, programs []string) hcl.Diagnostics {
	if len(programs) == 0 {
		return nil
	}
	return hcl.Diagnostics{warningAt(st.rng, "Command not on the hook's PATH",
		"%s runs %s, which bakc does not know to be on the service's PATH: not a shell builtin, not an absolute path, and on NixOS a service has only coreutils, findutils, grep, sed, systemd, bash and restic there. Declare where it comes from in %s: packages = [\"postgresql\"] (Nix packages, for backup.nix) and, for hosts without Nix, path = [\"/usr/lib/postgresql/15/bin\"] (folders); or write the program's absolute path.",
		capitalize(st.what), strings.Join(programs, ", "), blockWords(st))}
}

// writesFix says how to declare a write.
func writesFix(st step, p string) string {
	dir := p
	if dir != "/" {
		dir = path.Dir(p)
	}
	if st.argv != nil {
		return "A dump streams into restic and should not write files; if it must, write it as a hook that declares what it writes."
	}
	if !st.block {
		return fmt.Sprintf("Write the hook as a block that declares it: hook %q { command = … writes = [%q] }, and remove the %s attribute.", st.hook, dir, st.hook)
	}
	return fmt.Sprintf("Add the folder to the hook's writes: writes = [%q].", dir)
}

// blockWords names the block a declaration goes in.
func blockWords(st step) string {
	if !st.block && st.hook != "" {
		return fmt.Sprintf("a hook %q block (replacing the %s attribute)", st.hook, st.hook)
	}
	if st.hook != "" {
		return "the hook's block"
	}
	return "the dump's block"
}

// anyUnder reports whether p is one of dirs or inside one.
func anyUnder(p string, dirs []string) bool {
	for _, d := range dirs {
		if isUnder(p, d) {
			return true
		}
	}
	return false
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
