package compiler

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/schema"
)

// A hook's command and a dump's argv are in the plan, and so in the Nix
// store: a credential written into one (RESTIC_PASSWORD=… restic …,
// PGPASSWORD=… pg_dumpall, mysqldump --password=…) is readable by every
// user of the machine. bakc finds those written out literally: a value
// given to a variable whose name says it holds a secret, or to an option
// that takes one. A value read at run time ("$(cat /run/secrets/pg)",
// "$PGPASSWORD") is not in the plan and is fine.

// secretNameRE is a variable that holds a secret, by its name.
var secretNameRE = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|ACCOUNT_?KEY|PRIVATE_?KEY|CREDENTIAL)`)

// notSecretNameRE are names of that kind whose value is not the secret
// but where it is (RESTIC_PASSWORD_FILE, PASSWORD_COMMAND).
var notSecretNameRE = regexp.MustCompile(`(?i)_(FILE|PATH|DIR|COMMAND|CMD)$`)

// secretOptionRE is a command-line option that takes a secret, written
// with its value: --password=…, --token=….
var secretOptionRE = regexp.MustCompile(`(?i)^--?(password|passwd|pass|passphrase|secret|token|api-key|access-key|secret-key|secret-access-key)=(.+)$`)

// literalSecret reports whether name=value gives a secret literally.
func literalSecret(name, value string) bool {
	return value != "" && !strings.HasPrefix(value, "/") &&
		secretNameRE.MatchString(name) && !notSecretNameRE.MatchString(name)
}

// argSecret returns the name of what an argument gives literally that
// is a secret (NAME=value as env(1) takes it, or --password=value), or
// "".
func argSecret(arg string) string {
	if m := secretOptionRE.FindStringSubmatch(arg); m != nil && !strings.HasPrefix(m[2], "/") {
		return "--" + strings.ToLower(m[1])
	}
	if name, value, ok := strings.Cut(arg, "="); ok && shellNameRE.MatchString(name) && literalSecret(name, value) {
		return name
	}
	return ""
}

// shellNameRE is a shell variable name.
var shellNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// argvSecrets are the secrets a dump's argv (run without a shell) gives
// literally.
func argvSecrets(argv []string) []shellWord {
	var out []shellWord
	for i, a := range argv {
		if i == 0 {
			continue
		}
		if name := argSecret(a); name != "" {
			out = append(out, shellWord{Name: name, Col: uint(i)})
		}
	}
	return out
}

// secretInStep is the error for a step that gives secrets literally;
// it names them and where they are, never their values.
func secretInStep(st step, found []shellWord, argv bool) *hcl.Diagnostic {
	var names []string
	for _, f := range found {
		where := fmt.Sprintf("line %d, column %d of the command", f.Line, f.Col)
		if argv {
			where = fmt.Sprintf("argument %d", f.Col)
		}
		names = append(names, fmt.Sprintf("%s (%s)", f.Name, where))
	}
	d := errorAt(st.rng, "Secret in a hook command",
		"%s gives %s a value written in the command. The command is in the plan and, on NixOS, the Nix store, which every user of the machine can read. Read the secret from a file outside the store when the command runs instead: PGPASSWORD=\"$(cat /run/secrets/pg)\" (a sops-nix secret the service's user can read), or the program's own way to read a password file.",
		capitalize(st.what), strings.Join(names, ", "))
	d.Extra = schema.SecretDiagnostic{}
	return d
}
