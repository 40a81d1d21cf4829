package schema

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/hcl/v2"
)

// Every string of the configuration reaches the plan, and through
// backup.nix the Nix store, which every user of a NixOS machine can
// read and which is copied with every closure; a secret written into
// any of them (a key pasted into a description, a hook or a URL) would
// be there for good. So every string is looked at for what is
// unmistakably a secret, by its form: the patterns below are those that
// a secret has and nothing else a configuration holds does (a public ssh
// key, a known_hosts line, a path or a schedule match none). Secrets
// that have no form of their own (a password) are found by where they
// are written: a password in a URL (compiler), a literal value given to
// a variable named like a secret in a hook or dump (compiler/hook.go).

// secretForms are the forms of secrets bakc recognises, with what they
// are called in messages.
var secretForms = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`), "a private key"},
	{regexp.MustCompile(`AGE-SECRET-KEY-1[0-9A-Z]{20,}`), "an age secret key"},
	{regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`), "an AWS access key ID"},
	{regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`), "a GitHub token"},
	{regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}`), "a Slack token"},
	{regexp.MustCompile(`\bsk_live_[A-Za-z0-9]{16,}`), "a Stripe secret key"},
	{regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}`), "a GitLab token"},
}

// SecretDiagnostic is the Extra of a diagnostic whose subject holds a
// secret: the printers (bakc's text and JSON forms) show where it is,
// but not the source line, so that the secret does not reach a terminal
// or a CI log a second time.
type SecretDiagnostic struct{}

// IsSecretDiagnostic reports whether d is marked as holding a secret.
func IsSecretDiagnostic(d *hcl.Diagnostic) bool {
	_, ok := d.Extra.(SecretDiagnostic)
	return ok
}

// SecretForm returns what s holds that has the form of a secret ("a
// private key"), or "".
func SecretForm(s string) string {
	for _, f := range secretForms {
		if f.re.MatchString(s) {
			return f.what
		}
	}
	return ""
}

// checkNoSecret refuses a string that holds something of a secret's
// form, without repeating it.
func checkNoSecret(s string, rng hcl.Range, what string) hcl.Diagnostics {
	form := SecretForm(s)
	if form == "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Secret in the configuration",
		Detail: fmt.Sprintf("%s holds what looks like %s. Every value of the configuration is copied into the plan and, on NixOS, the Nix store, which every user of the machine can read. Remove it, revoke it if it was ever committed, and keep it in a file outside the store (a sops-nix secret: password_file = { sops = …, key = … }, or a path under /run/secrets).",
			what, form),
		Subject: rng.Ptr(),
		Extra:   SecretDiagnostic{},
	}}
}
