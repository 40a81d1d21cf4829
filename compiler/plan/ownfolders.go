package plan

import "strings"

// OwnFoldersLeftOut returns the runtime's own folders that every backup
// of job leaves out because one of its paths covers them: the state folder
// (locks, run state, the exclude file; restoring an old copy would only
// make the metrics lie about the last success) and restic's cache (a copy
// of the repositories' metadata, often gigabytes, marked with a
// CACHEDIR.TAG). A job path that is such a folder, or lies inside it, is
// backed up as asked (the compiler warns about it). The log and the
// metrics folder are not left out: the error log is history, and
// node_exporter's textfile folder is shared with other collectors.
//
// The runtime writes them into the job's exclude file, and the runbook
// lists them, from this one function.
func (p *Plan) OwnFoldersLeftOut(job *Job) []string {
	var out []string
	for _, dir := range []string{p.Paths.State, p.Paths.Cache} {
		if dir == "" {
			continue
		}
		for _, jp := range job.Paths {
			if dir != jp && isWithin(dir, jp) {
				out = append(out, dir)
				break
			}
		}
	}
	return out
}

// isWithin reports whether path p is dir or below it; both clean and
// absolute.
func isWithin(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
