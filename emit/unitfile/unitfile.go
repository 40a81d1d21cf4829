// Package unitfile renders a node's units (package units) as plain files
// for a host that is not NixOS: unit files serialized with go-systemd's
// unit package, the tmpfiles.d and sysusers.d files that create the
// runtime's folders and the backup user, and the plan itself.
//
// It returns file contents; only the CLI writes them.
package unitfile

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/emit/runbook"
	"github.com/holthome/bakc/emit/units"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/templates"
)

// Names of the files besides the units.
const (
	PlanFile     = "plan.json"
	TmpfilesFile = "bakc-tmpfiles.conf"
	SysusersFile = "bakc-sysusers.conf"
	// KnownHostsFile holds the host keys of the node's sftp
	// repositories; it is installed at the plan's paths.known_hosts.
	KnownHostsFile = "known_hosts"
	// RunbookFile is the node's runbook, installed beside the plan
	// (units.RunbookPath); the tmpfiles link it into
	// the docs folder (paths.docs, /var/lib/backup-docs by default).
	RunbookFile = units.RunbookName
)

// DefaultProgram is where the units expect bakc on a plain host, unless
// told otherwise (`bakc units --bakc PATH`).
const DefaultProgram = "/usr/local/bin/bakc"

// File is one output file.
type File struct {
	Name string
	Data []byte
}

// Render returns every file of `bakc units` for the plan, sorted by
// name. program is the absolute path of the bakc binary that the
// services run.
func Render(p *plan.Plan, program string) ([]File, error) {
	if err := escape.CheckSystemdExecProgram(program); err != nil {
		return nil, fmt.Errorf("bakc program path %q: %w", program, err)
	}
	set, err := units.Build(p)
	if err != nil {
		return nil, err
	}
	header := "# " + templates.Header(p.Source) + "\n"
	var files []File
	for i := range set.Units {
		u := &set.Units[i]
		data, err := Serialize(u, program)
		if err != nil {
			return nil, err
		}
		files = append(files, File{Name: u.Name, Data: append([]byte(header), data...)})
	}
	planJSON, err := plan.Marshal(p)
	if err != nil {
		return nil, err
	}
	book, err := runbook.Render(p, runbook.Options{})
	if err != nil {
		return nil, err
	}
	repl, sendUser, err := replicationFiles(p, program, header)
	if err != nil {
		return nil, err
	}
	files = append(files, repl...)
	files = append(files,
		File{Name: PlanFile, Data: planJSON},
		File{Name: RunbookFile, Data: book},
		File{Name: TmpfilesFile, Data: []byte(header + "# Install as /etc/tmpfiles.d/bakc.conf.\n" + strings.Join(set.Tmpfiles, "\n") + "\n")},
		File{Name: SysusersFile, Data: []byte(header + "# Install as /etc/sysusers.d/bakc.conf.\n" + strings.Join(append(set.Sysusers, sendUser...), "\n") + "\n")},
	)
	if kh := set.KnownHosts; kh != nil {
		// known_hosts takes # comments; ssh reads the rest line by line.
		files = append(files, File{Name: KnownHostsFile, Data: []byte(header +
			"# Install as " + escape.CommentText(kh.Path) + " (mode 0644): the host keys of the sftp repositories.\n" +
			strings.Join(kh.Lines, "\n") + "\n")})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// Serialize writes one unit as a unit file with go-systemd's serializer.
// A command line marked Program gets program (escaped) in front of its
// arguments. The values are already escaped; Serialize refuses one that
// would still break the file (a newline), since go-systemd writes values
// as they are.
func Serialize(u *units.Unit, program string) ([]byte, error) {
	var sections []*unit.UnitSection
	for _, s := range u.Sections {
		us := &unit.UnitSection{Section: s.Name}
		for _, e := range s.Entries {
			v := e.Value
			if e.Program {
				v = escape.SystemdExecProgram(program) + " " + v
			}
			if strings.ContainsAny(v, "\n\r") {
				return nil, fmt.Errorf("%s: [%s] %s= spans lines", u.Name, s.Name, e.Key)
			}
			us.Entries = append(us.Entries, &unit.UnitEntry{Name: e.Key, Value: v})
		}
		sections = append(sections, us)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, unit.SerializeSections(sections)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
