package plan

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/holthome/bakc/escape"
)

// CheckDumpFilename reports a dump filename restic cannot store as the
// file /<filename> of its snapshot: it must be a clean relative path.
// The compiler and Validate share it.
func CheckDumpFilename(f string) error {
	switch {
	case f == "":
		return errors.New("is empty")
	case strings.HasPrefix(f, "/"):
		return errors.New("starts with \"/\"")
	case path.Clean(f) != f || f == "." || f == ".." || strings.HasPrefix(f, "../"):
		return errors.New("is not a clean relative path (no \"//\", \".\" or \"..\", no trailing slash)")
	case len(f) > 4000:
		return errors.New("is too long")
	case strings.ContainsAny(f, "\x00\n"):
		return errors.New("holds a line break or NUL")
	}
	return nil
}

// CheckPackage reports a package name that is not a Nix attribute path
// (identifiers separated by dots): backup.nix writes it as pkgs.<name>.
func CheckPackage(name string) error {
	if name == "" {
		return errors.New("is empty")
	}
	for _, seg := range strings.Split(name, ".") {
		if !escape.IsNixIdentifier(seg) {
			return fmt.Errorf("%q is not a Nix attribute path (identifiers separated by dots, such as postgresql or python3Packages.psycopg)", name)
		}
	}
	return nil
}

// checkSteps relates a job's hooks and dumps: what a hook needs is keyed
// by the name of a hook the job has, a dump's tag names it, a dump runs
// a program, and a job reads paths or dumps (or both).
func checkSteps(v *validator, p *Plan) {
	for i := range p.Jobs {
		j := &p.Jobs[i]
		field := fmt.Sprintf("jobs[%d]", i)
		if len(j.Paths) == 0 && len(j.Dumps) == 0 {
			v.fail(field+".paths", errors.New("are empty and the job has no dumps: it would back up nothing"))
		}
		hooks := map[string]string{HookPreBackup: j.Hooks.PreBackup, HookPostBackup: j.Hooks.PostBackup, HookOnFailure: j.Hooks.OnFailure}
		for name := range j.Hooks.Needs {
			cmd, known := hooks[name]
			switch {
			case !known:
				v.fail(fmt.Sprintf("%s.hooks.needs[%q]", field, name), fmt.Errorf("names no hook (the hooks are %s, %s and %s)", HookPreBackup, HookPostBackup, HookOnFailure))
			case cmd == "":
				v.fail(fmt.Sprintf("%s.hooks.needs[%q]", field, name), errors.New("is given for a hook the job does not have"))
			}
		}
		for k := range j.Dumps {
			d := &j.Dumps[k]
			df := fmt.Sprintf("%s.dumps[%d]", field, k)
			if k > 0 && d.Name <= j.Dumps[k-1].Name {
				v.fail(df+".name", fmt.Errorf("%q comes after %q: dumps are sorted by name, each once", d.Name, j.Dumps[k-1].Name))
			}
			if d.Tag != DumpTagPrefix+d.Name && !v.failed[df+".name"] {
				v.fail(df+".tag", fmt.Errorf("%q is not %q, the tag that names the dump", d.Tag, DumpTagPrefix+d.Name))
			}
			if len(d.Command) > 0 && d.Command[0] == "" {
				v.fail(df+".command[0]", errors.New("is empty: a dump runs a program"))
			}
			if len(d.Writes) > 0 {
				v.fail(df+".writes", errors.New("are given, but a dump never writes files: its output goes to restic"))
			}
		}
	}
}
