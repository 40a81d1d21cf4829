package nas

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/holthome/bakc/compiler/plan"
	"github.com/holthome/bakc/escape"
	"github.com/holthome/bakc/templates"
)

// scriptTemplate is the template file of the script; its named parts
// "prelude", "datasets", "allow" and "summary" are also the NixOS boot
// service.
const scriptTemplate = "nas-plan.sh.tmpl"

// funcs are the template functions: sh is the only way a value reaches
// the script.
var funcs = template.FuncMap{"sh": escape.ShellQuote}

// Script renders the POSIX sh script that brings the NAS in line with p:
// every node of p (the caller keeps only one node for `nas-plan NODE`).
// It returns an error, and no script, if any value of p is unsafe or
// inconsistent.
func Script(p *plan.NASPlan) ([]byte, error) {
	v, err := newView(p)
	if err != nil {
		return nil, err
	}
	out, err := templates.Execute(scriptTemplate, funcs, v)
	if err != nil {
		return nil, err
	}
	return endLine(out), nil
}

// bootScript renders the dataset part of the script alone (no users, no
// exports: NixOS declares those), for the NixOS boot service.
func bootScript(v *view) (string, error) {
	t, err := templates.Parse(scriptTemplate, funcs)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	for _, name := range []string{"prelude", "datasets", "allow", "summary"} {
		if err := t.ExecuteTemplate(&buf, name, v); err != nil {
			return "", fmt.Errorf("template %s: %w", scriptTemplate, err)
		}
		buf.WriteString("\n")
	}
	return string(bytes.TrimLeft(buf.Bytes(), "\n")), nil
}

// endLine makes out end in exactly one newline.
func endLine(out []byte) []byte {
	return append(bytes.TrimRight(out, "\n"), '\n')
}
