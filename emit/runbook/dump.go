package runbook

import (
	"fmt"
	"path"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// dumpRestoreView is how one dump of a job comes back from one
// repository: `restic dump` of the file the dump's snapshot holds, into
// a file below the job's restore folder, or piped into the dump's
// restore command as the dump's user.
type dumpRestoreView struct {
	plan.Dump
	// Tags is restic's --tag value: the job's tag and the dump's, both
	// required (restic reads a comma inside one --tag as "and").
	Tags string
	// File is where the dump is written; Dir is its folder.
	File, Dir string
	// Into is the restore command's argv with the switch to the dump's
	// user in front (runuser), empty without a restore command.
	Into []string
}

func dumpRestore(p *plan.Plan, j *plan.Job, d plan.Dump, target string) dumpRestoreView {
	file := path.Join(target, d.Filename)
	v := dumpRestoreView{Dump: d, Tags: j.JobTag + "," + d.Tag, File: file, Dir: path.Dir(file)}
	if len(d.RestoreCommand) > 0 {
		if u := d.User; u != "" && u != "root" {
			v.Into = append([]string{"runuser", "-u", u, "--"}, d.RestoreCommand...)
		} else {
			v.Into = d.RestoreCommand
		}
	}
	return v
}

// checkDumpInputs refuses dump values a restore command could not carry
// exactly (the compiler rejects them first).
func checkDumpInputs(j plan.Job) error {
	for _, d := range j.Dumps {
		if d.Tag == "" || strings.ContainsAny(d.Tag, ",\x00") {
			return fmt.Errorf("runbook: job %s: dump tag %q cannot be given to restic --tag", j.Name, d.Tag)
		}
		f := d.Filename
		if f == "" || strings.HasPrefix(f, "/") || path.Clean(f) != f || f == ".." || strings.HasPrefix(f, "../") || strings.ContainsRune(f, 0) {
			return fmt.Errorf("runbook: job %s: dump %s: filename %q is not a clean relative path", j.Name, d.Name, f)
		}
		for _, a := range append(append([]string{}, d.RestoreCommand...), d.User) {
			if strings.ContainsRune(a, 0) {
				return fmt.Errorf("runbook: job %s: dump %s: %q contains a NUL byte", j.Name, d.Name, a)
			}
		}
	}
	return nil
}
