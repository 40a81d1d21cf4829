package compiler

import "strings"

// The programs bakc knows to be on a hook's or dump's PATH without any
// declaration, for the "Command not on the hook's PATH" warning. On
// NixOS a service's PATH is only what its path option lists: nixpkgs'
// systemd module gives every service coreutils, findutils, gnugrep,
// gnused and systemd (nixos/lib/systemd-lib.nix, serviceConfig), bakc's
// package puts restic and bash before it (nix/package.nix), and a ZFS
// snapshot job's service has the kernel's ZFS package. A plain host
// gives its services systemd's default PATH (/usr/bin and friends),
// where anything installed is found; bakc cannot know what is, so the
// warning is written for NixOS and silenced by declaring packages or
// path.

// shellBuiltins are the builtins and special builtins of bash and POSIX
// sh: never looked up in PATH.
var shellBuiltins = words(`. : [ alias bg bind break builtin caller cd command compgen complete
	compopt continue declare dirs disown echo enable eval exec exit export false fc fg getopts
	hash help history jobs kill let local logout mapfile popd printf pushd pwd read readarray
	readonly return set shift shopt source suspend test times trap true type typeset ulimit
	umask unalias unset wait`)

// defaultServiceCommands are the programs of the packages every NixOS
// service has on its PATH (see above), as nixpkgs builds them.
var defaultServiceCommands = words(`
	[ b2sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum comm cp
	csplit cut date dd df dir dircolors dirname du echo env expand expr factor false fmt fold
	groups head hostid id install join link ln logname ls md5sum mkdir mkfifo mknod mktemp mv
	nice nl nohup nproc numfmt od paste pathchk pinky pr printenv printf ptx pwd readlink
	realpath rm rmdir runcon seq sha1sum sha224sum sha256sum sha384sum sha512sum shred shuf
	sleep sort split stat stdbuf stty sum sync tac tail tee test timeout touch tr true truncate
	tsort tty uname unexpand uniq unlink users vdir wc who whoami yes
	find xargs locate updatedb
	grep egrep fgrep
	sed
	busctl hostnamectl journalctl kernel-install localectl loginctl networkctl systemctl
	systemd-analyze systemd-ask-password systemd-cat systemd-cgls systemd-cgtop systemd-creds
	systemd-delta systemd-detect-virt systemd-escape systemd-id128 systemd-inhibit
	systemd-mount systemd-notify systemd-path systemd-run systemd-socket-activate
	systemd-tmpfiles systemd-umount timedatectl udevadm
	bash sh restic`)

// zfsCommands are on the PATH of a ZFS snapshot job's service.
var zfsCommands = words(`zfs zpool zdb`)

// privilegeCommands raise privileges through a setuid binary, which
// NoNewPrivileges=yes (every bakc service) makes fail.
var privilegeCommands = words(`sudo su doas pkexec`)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
