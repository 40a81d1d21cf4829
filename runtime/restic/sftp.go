package restic

import "github.com/holthome/bakc/escape"

// SFTPCommandOption is restic's extended option with the whole ssh
// command line of an sftp repository. restic 0.14 has only this one;
// 0.17 added sftp.args, which adds arguments to restic's own
// `ssh host -l user -s sftp` (internal/backend/sftp/config.go). bakc sets
// sftp.command, which both read the same way.
const SFTPCommandOption = "sftp.command"

// SFTPCommand returns argv as the value of sftp.command, written for
// restic's own word splitter (escape.ResticCommand).
func SFTPCommand(argv []string) (string, error) { return escape.ResticCommand(argv) }
