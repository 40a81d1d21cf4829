// Package units derives, from a node's plan, every systemd unit bakc
// installs on that node: a service and a timer per job and per
// repository task, the mount and automount units of NFS repositories,
// and the tmpfiles.d and sysusers.d lines that create the runtime's
// folders and the backup user.
//
// It is the one place where the content of those units is decided. The
// plain unit files (emit/unitfile) and the NixOS module (emit/nixos) are
// two renderings of the same Set, so that a NixOS host and a Debian host
// run the same services with the same hardening; a test evaluates the
// NixOS module and compares it with the plain files key by key.
//
// The model is neutral: units, sections and ordered key/value entries,
// whose values are already escaped for the setting's own parser in
// systemd (see package escape). A renderer only writes them out.
package units

import "strings"

// Set is everything the units of one node consist of.
type Set struct {
	// Units, sorted by name.
	Units []Unit
	// Tmpfiles are tmpfiles.d lines that create the runtime's folders
	// (state, cache, log, metrics, local repositories) owned by the
	// backup user, in the order they are written.
	Tmpfiles []string
	// Sysusers are sysusers.d lines that create the backup group and
	// user with their fixed ids. NixOS declares them with users.users
	// and users.groups instead.
	Sysusers []string
	// KnownHosts is the known_hosts file of the node's sftp
	// repositories; nil when none declares host keys inline.
	KnownHosts *KnownHosts
}

// Unit is one unit file.
type Unit struct {
	// Name is the unit's full name, with its type suffix
	// ("bakc-backup-system.service").
	Name string
	// Sections in the order they are written.
	Sections []Section
	// Repository is, for a mount or automount unit, the repository it
	// mounts. NixOS gets those mounts from fileSystems instead.
	Repository string
	// RunsZFS says the service runs zfs(8). A plain host has it in
	// PATH; NixOS adds the kernel's ZFS package to the service's path.
	RunsZFS bool
	// Packages are Nix package attribute paths the job's hooks and
	// dumps need ("postgresql"): NixOS puts them on the service's path.
	// A plain host has no Nix packages; its PATH comes from a PlainOnly
	// Environment= entry instead.
	Packages []string
	// RunsSSH says the service's restic starts ssh (an sftp repository).
	// A plain host has it in PATH; NixOS adds openssh to the service's
	// path.
	RunsSSH bool
}

// Section is one [Section] of a unit file.
type Section struct {
	Name    string
	Entries []Entry
}

// Entry is one "Key=Value" line. A key may appear several times in a
// section (After=, ReadWritePaths=); systemd then adds the values up.
type Entry struct {
	Key string
	// Value is the text after "Key=", already escaped for the parser
	// systemd uses for Key. For an entry with Program set it is only
	// the escaped arguments that follow the program.
	Value string
	// Program marks a command line (ExecStart=) whose program is bakc
	// itself. The program's path differs between a plain host (where
	// the user says where bakc is) and NixOS (where it is a store path
	// known only when the module is evaluated), so it is not in Value:
	// the line is the escaped program path, a space, and Value.
	Program bool
	// PlainOnly marks an entry only the plain unit file has: the
	// Environment=PATH= of a job's declared folders. NixOS builds the
	// service's PATH from its path option (Unit.Packages) and would
	// lose it to this line.
	PlainOnly bool
}

// Type returns the unit's type: "service", "timer", "mount"….
func (u *Unit) Type() string {
	return u.Name[strings.LastIndexByte(u.Name, '.')+1:]
}

// Section returns the section with the given name, or nil.
func (u *Unit) Section(name string) *Section {
	for i := range u.Sections {
		if u.Sections[i].Name == name {
			return &u.Sections[i]
		}
	}
	return nil
}

// Values returns every value of key in the section, in order.
func (s *Section) Values(key string) []string {
	var out []string
	for _, e := range s.Entries {
		if e.Key == key {
			out = append(out, e.Value)
		}
	}
	return out
}

// Keys returns the section's keys in the order they first appear.
func (s *Section) Keys() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range s.Entries {
		if !seen[e.Key] {
			seen[e.Key] = true
			out = append(out, e.Key)
		}
	}
	return out
}

// Unit returns the unit with the given full name, or nil.
func (s *Set) Unit(name string) *Unit {
	for i := range s.Units {
		if s.Units[i].Name == name {
			return &s.Units[i]
		}
	}
	return nil
}

// section is a small builder for a Section's entries.
type section struct{ Section }

func newSection(name string) *section { return &section{Section{Name: name}} }

func (s *section) add(key, value string) *section {
	s.Entries = append(s.Entries, Entry{Key: key, Value: value})
	return s
}

func (s *section) addPlainOnly(key, value string) *section {
	s.Entries = append(s.Entries, Entry{Key: key, Value: value, PlainOnly: true})
	return s
}

func (s *section) addProgram(key, args string) *section {
	s.Entries = append(s.Entries, Entry{Key: key, Value: args, Program: true})
	return s
}
