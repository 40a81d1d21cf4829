package nas

import (
	"fmt"
	"strings"

	"github.com/holthome/bakc/compiler/plan"
)

// receiveCommand is the forced command of every replication key: sshd
// runs it (through the user's shell) instead of whatever the client
// asked for, with the client's request in $SSH_ORIGINAL_COMMAND.
//
// It allows exactly `zfs receive` (or `zfs recv`), plus the read-only
// `zfs list` and `zfs get` that replication tools use to find the last
// snapshot both sides have. The request is split into words at white
// space with globbing off (set -f) and run directly, never evaluated by
// a shell, so `zfs receive x; rm -rf /` gives zfs the argument "x;" and
// fails, and $(…) or backticks stay text. ($* unquoted is the same as
// "$@" here: the words came from splitting and hold no white space, and
// shells ignore an IFS from the environment.) Which datasets a receive
// may touch is not decided here but by `zfs allow`: the user holds
// rights on its own dataset only. PATH is fixed so that the key works on
// NixOS (/run/current-system/sw/bin) and elsewhere.
//
// The text is a constant, nothing from the configuration reaches it, and
// it holds no double quote or backslash, so that it reads the same in
// authorized_keys, in the script and in Nix.
const receiveCommand = `set -f; PATH=/run/current-system/sw/bin:/usr/sbin:/usr/bin:/sbin:/bin; ` +
	`set -- $SSH_ORIGINAL_COMMAND; ` +
	`case $1:$2 in zfs:receive|zfs:recv|zfs:list|zfs:get) exec $*;; esac; ` +
	`echo bakc: this key may only run zfs receive, zfs list or zfs get >&2; exit 1`

// authorizedKey returns the authorized_keys line (with its newline) for
// a replication key: the key restricted with `restrict` (no pty, no
// forwarding of any kind, no ~/.ssh/rc), to the node's address with
// from="…", and to receiveCommand with command="…".
func authorizedKey(r *plan.Receive) (string, error) {
	cmd, err := sshOptionQuote(receiveCommand)
	if err != nil {
		return "", err
	}
	from, err := sshOptionQuote(r.From)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("restrict,from=%s,command=%s %s\n", from, cmd, strings.TrimSpace(r.PublicKey)), nil
}

// sshOptionQuote quotes an authorized_keys option value. sshd's parser
// (opt_dequote in OpenSSH's misc.c) reads up to the next unescaped
// double quote and turns only \" into "; every other backslash stays as
// it is. A value ending in a backslash cannot be written (its closing
// quote would read as escaped), nor can one that ends the line.
func sshOptionQuote(s string) (string, error) {
	if strings.HasSuffix(s, `\`) || strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("%q cannot be an authorized_keys option value", s)
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`, nil
}
