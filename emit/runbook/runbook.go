// Package runbook emits a node's runbook: a Markdown page that says what
// is backed up, when, where and for how long, and gives the exact
// commands to restore each job's paths from each of its repositories.
//
// It reads only the plan. The restore commands are built from the same
// plan fields the runtime uses (restic --host is the node name, --tag the
// job's tag, --path the job's path), every shell word is quoted by
// escape.ShellQuote, and a test backs a tree up with real restic as the
// runtime would, runs the commands it finds in the generated page with
// sh, and compares what comes back byte for byte.
package runbook

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"text/template"

	"github.com/holthome/bakc/compiler/calendar"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/templates"
)

// DefaultRestoreRoot is where the runbook's commands restore to: a
// folder of its own, so that restoring never overwrites live files by
// accident. Each job restores below <root>/<job>, under the original
// paths (<root>/system/home/…).
const DefaultRestoreRoot = "/var/tmp/bakc-restore"

// Options change what the runbook says without changing the plan.
type Options struct {
	// RestoreRoot replaces DefaultRestoreRoot (absolute, clean).
	RestoreRoot string
}

// Render returns the runbook of the plan's node as Markdown. The same
// plan and options give the same bytes. It fails on a plan the restore
// commands could not carry exactly (the compiler rejects those first).
func Render(p *plan.Plan, opts Options) ([]byte, error) {
	if opts.RestoreRoot == "" {
		opts.RestoreRoot = DefaultRestoreRoot
	}
	if !path.IsAbs(opts.RestoreRoot) || path.Clean(opts.RestoreRoot) != opts.RestoreRoot || strings.ContainsRune(opts.RestoreRoot, 0) {
		return nil, fmt.Errorf("runbook: the restore root %q is not an absolute, clean path", opts.RestoreRoot)
	}
	if err := checkRestoreInputs(p); err != nil {
		return nil, err
	}
	v, err := buildView(p, opts)
	if err != nil {
		return nil, err
	}
	return templates.Execute("runbook.md.tmpl", funcs, v)
}

// funcs are the template's escaping functions: shq for every shell word,
// code/cell/text for Markdown.
var funcs = template.FuncMap{
	"shq":  escape.ShellQuote,
	"code": mdCode,
	"cell": mdCell,
	"text": mdText,
	"join": strings.Join,
	"glob": escape.Glob,
	"shjoin": func(argv []string) string {
		words := make([]string, len(argv))
		for i, a := range argv {
			words[i] = escape.ShellQuote(a)
		}
		return strings.Join(words, " ")
	},
}

// view is what the template sees: the plan, and what is derived from it.
type view struct {
	Plan   *plan.Plan
	Header string
	// Fence opens and closes every code block: longer than any run of
	// backticks in any plan value.
	Fence string
	// Caps is setpriv's capability list for restic as the backup user.
	Caps         string
	RestoreRoot  string
	Jobs         []jobView
	Repositories []repoView
	Secrets      []secretView
	// Copies are the replicated datasets' copies on the NAS.
	Copies []copyView
	// SopsFiles are the sops files the secrets come from.
	SopsFiles []string
	// Recovery is the whole node's disaster recovery.
	Recovery *recoveryView
}

type scheduleView struct {
	Calendar   string
	Normalized string
	// Delay is the randomized delay in systemd's words ("30min"), or "".
	Delay string
}

type jobView struct {
	plan.Job
	Unit  string
	Sched scheduleView
	// Retentions are the job's forget policies and where each applies
	// (a repository's own retention replaces the job's there).
	Retentions []retentionView
	// NotDefault are the node's repositories with default = false, for
	// a job that lists none: why it does not write there.
	NotDefault []string
	// LeftOut are bakc's own folders below the job's paths that no
	// backup holds (plan.OwnFoldersLeftOut).
	LeftOut  []string
	Restores []restoreView
	// Sources are the job's paths and its dumps' paths in the snapshots.
	Sources []string
	// HookList are the job's hooks, each printed whole in a code block.
	HookList []hookView
}

// hookView is one hook of a job: what runs it, and the command as
// written, ending in a newline, for a fenced code block (the view's
// Fence is longer than any run of backticks in it).
type hookView struct {
	Label   string
	Command string
	Needs   *plan.Needs
}

// restoreView is one job restored from one repository.
type restoreView struct {
	Repo   repoView
	Target string
	Paths  []pathView
	Dumps  []dumpRestoreView
}

type pathView struct {
	Path    string
	Include string
}

type repoView struct {
	plan.Repository
	KindWords string
	// MountOptions are the NFS options for mounting by hand.
	MountOptions string
	// SFTPOption is, for an sftp repository, restic's -o value that
	// starts ssh as the runtime does (plan.SSH.Command), for the
	// restore commands.
	SFTPOption string
	Jobs       []string
	// OwnRetention is the repository's own retention, which replaces
	// the jobs' there; nil when it has none.
	OwnRetention *retentionView
	Prune        scheduleView
	Verify       *scheduleView
	RestoreTest  *scheduleView
	// MountUnit is systemd's mount unit of an NFS repository's
	// mountpoint, for the troubleshooting commands.
	MountUnit string
	// Browse are the jobs' snapshots here, for the browsing commands.
	Browse []browseView
	// ReadFunc defines bakc_restic for the troubleshooting and
	// browsing commands (readFunc).
	ReadFunc string
	// RestoreFunc defines bakc_restic for the restore and disaster
	// recovery commands (restoreFunc).
	RestoreFunc string
}

func buildView(p *plan.Plan, opts Options) (*view, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	v := &view{
		Plan:        p,
		Header:      templates.Header(p.Source),
		Fence:       codeFence(string(raw), opts.RestoreRoot),
		Caps:        capList(),
		RestoreRoot: opts.RestoreRoot,
		Secrets:     secretViews(p),
		SopsFiles:   sopsFiles(p),
		Copies:      copyViews(p),
	}
	repos := map[string]repoView{}
	for _, r := range p.Repositories {
		rv := repoView{Repository: r, KindWords: kindWords(r)}
		if r.NFS != nil {
			rv.MountOptions = strings.Join(manualMountOptions(r.NFS.Options), ",")
		}
		if r.Kind == plan.KindSFTP && r.SSH != nil {
			cmd, err := escape.ResticCommand(r.SSH.Command("ssh"))
			if err != nil {
				return nil, fmt.Errorf("runbook: repository %s: %w", r.Name, err)
			}
			rv.SFTPOption = escape.ResticOption("sftp.command=" + cmd)
		}
		for _, j := range p.Jobs {
			for _, name := range j.Repositories {
				if name == r.Name {
					rv.Jobs = append(rv.Jobs, j.Name)
				}
			}
		}
		if r.Retention != nil {
			rv.OwnRetention = &retentionView{Own: true, Words: retentionWords(*r.Retention), Flags: retentionFlags(*r.Retention)}
		}
		if rv.Prune, err = schedule("prune of "+r.Name, r.Prune.Schedule); err != nil {
			return nil, err
		}
		if r.Verify != nil {
			s, err := schedule("verify of "+r.Name, r.Verify.Schedule)
			if err != nil {
				return nil, err
			}
			rv.Verify = &s
		}
		if r.RestoreTest != nil {
			s, err := schedule("restore test of "+r.Name, r.RestoreTest.Schedule)
			if err != nil {
				return nil, err
			}
			rv.RestoreTest = &s
		}
		if err := troubleViews(p, &rv); err != nil {
			return nil, err
		}
		rv.ReadFunc = readFunc(p, rv)
		rv.RestoreFunc = restoreFunc(p, rv)
		repos[r.Name] = rv
		v.Repositories = append(v.Repositories, rv)
	}
	for _, j := range p.Jobs {
		jv := jobView{
			Job:        j,
			Unit:       "bakc-backup-" + j.Name,
			Retentions: jobRetentions(&j),
			LeftOut:    p.OwnFoldersLeftOut(&j),
		}
		if j.DefaultRepositories {
			jv.NotDefault = notDefault(p)
		}
		jv.Sources = append(jv.Sources, j.Paths...)
		for _, h := range []struct{ key, label, command string }{
			{"pre_backup", "Before each backup", j.Hooks.PreBackup},
			{"post_backup", "After a successful backup", j.Hooks.PostBackup},
			{"on_failure", "After a failed backup", j.Hooks.OnFailure},
		} {
			if h.command == "" {
				continue
			}
			hv := hookView{Label: h.label, Command: h.command}
			if !strings.HasSuffix(hv.Command, "\n") {
				hv.Command += "\n"
			}
			if n, ok := j.Hooks.Needs[h.key]; ok {
				hv.Needs = &n
			}
			jv.HookList = append(jv.HookList, hv)
		}
		for _, d := range j.Dumps {
			jv.Sources = append(jv.Sources, d.SnapshotPath()+" (dump "+d.Name+")")
		}
		if jv.Sched, err = schedule("job "+j.Name, j.Schedule); err != nil {
			return nil, err
		}
		for _, name := range j.Repositories {
			rv, ok := repos[name]
			if !ok {
				return nil, fmt.Errorf("runbook: job %s names repository %q, which the plan does not have", j.Name, name)
			}
			rs := restoreView{Repo: rv, Target: path.Join(opts.RestoreRoot, j.Name)}
			for _, jp := range j.Paths {
				rs.Paths = append(rs.Paths, pathView{Path: jp, Include: includePattern(jp)})
			}
			for _, d := range j.Dumps {
				rs.Dumps = append(rs.Dumps, dumpRestore(p, &j, d, rs.Target))
			}
			jv.Restores = append(jv.Restores, rs)
		}
		v.Jobs = append(v.Jobs, jv)
	}
	v.Recovery = buildRecovery(p, repos, opts.RestoreRoot)
	return v, nil
}

// schedule normalizes a timer's calendar expression and delay the way
// systemd will read them.
func schedule(what string, s plan.Schedule) (scheduleView, error) {
	n, err := calendar.Normalize(s.Calendar)
	if err != nil {
		return scheduleView{}, fmt.Errorf("runbook: schedule of %s: %w", what, err)
	}
	sv := scheduleView{Calendar: s.Calendar, Normalized: n}
	if s.RandomizedDelay != "" {
		d, err := calendar.ParseTimespan(s.RandomizedDelay)
		if err != nil {
			return scheduleView{}, fmt.Errorf("runbook: randomized delay of %s: %w", what, err)
		}
		sv.Delay = calendar.FormatTimespan(d)
	}
	return sv, nil
}

// kindWords names a repository's kind for people.
func kindWords(r plan.Repository) string {
	switch r.Kind {
	case plan.KindNFS:
		if r.NFS != nil {
			return "NFS export of " + r.NFS.NAS
		}
		return "NFS export"
	case plan.KindLocal:
		return "local folder"
	case plan.KindSFTP:
		return "SFTP"
	case plan.KindREST:
		return "restic REST server"
	case plan.KindS3:
		return "S3"
	case plan.KindB2:
		return "Backblaze B2"
	case plan.KindAzure:
		return "Azure Blob Storage"
	case plan.KindGS:
		return "Google Cloud Storage"
	case plan.KindSwift:
		return "OpenStack Swift"
	case plan.KindRclone:
		return "rclone"
	}
	return r.Kind
}
