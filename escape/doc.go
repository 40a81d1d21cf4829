// Package escape turns values from a configuration into text that another
// language reads back as exactly those values: a POSIX shell word
// (shell.go), a Nix string or attribute name (nix.go), the values of
// systemd unit files, tmpfiles.d and sysusers.d lines (systemd.go), and a
// line of restic's exclude file, a pattern or a literal path (restic.go).
//
// Every value that bakc writes into a script, a Nix file or a unit file
// goes through one of these functions; no template and no emitter quotes
// anything by hand. Each function is proven against the real reader
// (sh and bash, nix-instantiate, systemd, restic) and fuzzed.
//
// Some values cannot be carried at all (a NUL byte anywhere, a newline in
// a unit file setting that is not C-unescaped). For each escaping function
// there is a Check function that says why a value cannot be carried; the
// compiler calls the Check functions to reject such values with a
// diagnostic that points at the source, and the escaping functions panic
// on them rather than write something that would be read back as a
// different value.
package escape
