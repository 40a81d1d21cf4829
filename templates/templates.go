// Package templates holds the emitters' text templates (Nix, unit files,
// shell, Markdown), embedded in the binary. Templates never escape
// anything themselves: every value that needs quoting goes through a
// tested Go function (nixString, shellQuote, systemdEscape) handed in as
// a template function, and templates run with missingkey=error so that a
// misspelled field is an error, not an empty string.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"

	"github.com/holthome/bakc/escape"
)

//go:embed *.tmpl
var files embed.FS

// Parse parses the named template (a file in this folder) with funcs.
func Parse(name string, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(funcs).ParseFS(files, name)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}

// Execute parses and runs the named template on data.
func Execute(name string, funcs template.FuncMap, data any) ([]byte, error) {
	t, err := Parse(name, funcs)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Header is the first line of every generated file (after the comment
// marker the emitter adds): where it came from and that it is not to be
// edited by hand. The file name goes through escape.CommentText, so that
// no name can end the comment line.
func Header(source string) string {
	out, err := Execute("header.tmpl", nil, map[string]string{"Source": escape.CommentText(source)})
	if err != nil {
		// header.tmpl is embedded and has one field; this cannot fail at
		// run time without failing every test first.
		panic(err)
	}
	return string(bytes.TrimRight(out, "\n"))
}
