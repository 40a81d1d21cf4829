package plan

import (
	"fmt"
	"strings"
)

// An NFS repository is mounted on NixOS from an /etc/fstab line that
// NixOS writes from fileSystems (makeFstabEntries in
// nixos/modules/tasks/filesystems.nix): each field with a space written
// as \040 and a tab as \011, nothing else escaped. Two readers decode
// that line, differently:
//
//   - systemd-fstab-generator (252 to 256 at least) reads it with
//     glibc's getmntent: fgets into a 4096-byte buffer, so 4095 bytes
//     of a line and its newline; the rest of a longer line is dropped
//     (first the dump and pass fields, then the options), and
//     decode_name turns \040,
//     \011, \012, \134 and \\ into a space, a tab, a newline and a
//     backslash;
//   - mount(8) and findmnt read it with libmount: any line length, and
//     every backslash followed by three octal digits is that byte
//     (unmangle in lib/mangle.c).
//
// So a field that holds a backslash before another backslash or before
// three octal digits names another path to those readers than to the
// plan, the units' RequiresMountsFor= and restic's --repo
// (/mnt/nas\040backup is mounted at "/mnt/nas backup"), and a line
// longer than getmntent's buffer is cut. Both are refused.

// FstabLineMax is the longest fstab line, with its newline, that
// glibc's getmntent reads whole. A line a few bytes longer loses only
// its " 0 0" (which mean the same when missing), but a line is refused
// from the first byte that is not read: the rule stays "read whole".
const FstabLineMax = 4096

// fstabEscape is NixOS's escape of an fstab field.
var fstabEscape = strings.NewReplacer(" ", `\040`, "\t", `\011`).Replace

// NixOSFstabLine is the /etc/fstab line NixOS writes for the mount:
// "source mountpoint nfs options 0 0" and a newline (an nfs mount is
// never checked by fsck: pass 0).
func (m NFSMount) NixOSFstabLine() string {
	return fstabEscape(m.Source()) + " " + fstabEscape(m.Mountpoint) + " nfs " + fstabEscape(strings.Join(m.Options, ",")) + " 0 0\n"
}

// checkFstabField reports a backslash in s that an fstab reader would
// decode: before another backslash (glibc) or three octal digits (glibc
// for some, libmount for all).
func checkFstabField(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		rest := s[i+1:]
		switch {
		case strings.HasPrefix(rest, `\`):
			return fmt.Errorf(`%q holds "\\\\", which systemd's fstab reader (glibc) reads as one backslash`, s)
		case len(rest) >= 3 && isOctal(rest[0]) && isOctal(rest[1]) && isOctal(rest[2]):
			return fmt.Errorf(`%q holds %q, which the fstab readers (libmount, glibc) read as the byte it encodes`, s, s[i:i+4])
		}
	}
	return nil
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// CheckFstab reports why the mount cannot go through NixOS's fstab
// line and come out as itself in both of its readers, or nil: a field
// with a backslash escape, or a line longer than FstabLineMax.
func (m NFSMount) CheckFstab() error {
	for _, f := range []string{m.Source(), m.Mountpoint, strings.Join(m.Options, ",")} {
		if err := checkFstabField(f); err != nil {
			return err
		}
	}
	if n := len(m.NixOSFstabLine()); n > FstabLineMax {
		return fmt.Errorf("its /etc/fstab line would be %d bytes long (source %d, mountpoint %d, options %d), and systemd's fstab generator reads %d (glibc's getmntent), cutting the rest", n, len(m.Source()), len(m.Mountpoint), len(strings.Join(m.Options, ",")), FstabLineMax)
	}
	return nil
}
