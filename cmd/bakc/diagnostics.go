package main

import (
	"encoding/json"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler"
)

// diagnosticsWidth is where diagnostic details wrap: fixed, so that
// output is the same in a terminal, a pipe and a test.
const diagnosticsWidth = 78

// printDiagnostics prints diagnostics to stderr: as Terraform prints
// them (file:line:col, the source line underlined), or with asJSON as
// one line of JSON (see jsonDiagnostics). Nothing is printed when there
// are none.
func printDiagnostics(e *env, f *compiler.Fleet, diags hcl.Diagnostics, asJSON bool) {
	if len(diags) == 0 {
		return
	}
	if asJSON {
		writeJSONDiagnostics(e, f, diags)
		return
	}
	var files map[string]*hcl.File
	if f != nil {
		files = f.Files()
	}
	w := hcl.NewDiagnosticTextWriter(e.stderr, files, diagnosticsWidth, false)
	_ = w.WriteDiagnostics(diags)
}

// jsonDiagnostics is the --json form of diagnostics: one JSON object on
// one line of stderr per report.
type jsonDiagnostics struct {
	// Valid is true when there is no error (warnings may remain).
	Valid        bool             `json:"valid"`
	ErrorCount   int              `json:"error_count"`
	WarningCount int              `json:"warning_count"`
	Diagnostics  []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string       `json:"severity"` // "error" or "warning"
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail,omitempty"`
	Range    *jsonRange   `json:"range,omitempty"`
	Snippet  *jsonSnippet `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// jsonSnippet is the source lines of the range, as the text form shows
// them.
type jsonSnippet struct {
	StartLine int    `json:"start_line"`
	Code      string `json:"code"`
}

func writeJSONDiagnostics(e *env, f *compiler.Fleet, diags hcl.Diagnostics) {
	out := jsonDiagnostics{Valid: !diags.HasErrors(), Diagnostics: []jsonDiagnostic{}}
	var files map[string]*hcl.File
	if f != nil {
		files = f.Files()
	}
	for _, d := range diags {
		jd := jsonDiagnostic{Summary: d.Summary, Detail: d.Detail, Severity: "error"}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
			out.WarningCount++
		} else {
			out.ErrorCount++
		}
		if s := d.Subject; s != nil {
			jd.Range = &jsonRange{
				Filename: s.Filename,
				Start:    jsonPos{s.Start.Line, s.Start.Column, s.Start.Byte},
				End:      jsonPos{s.End.Line, s.End.Column, s.End.Byte},
			}
			if file := files[s.Filename]; file != nil {
				jd.Snippet = snippet(file.Bytes, *s)
			}
		}
		out.Diagnostics = append(out.Diagnostics, jd)
	}
	enc := json.NewEncoder(e.stderr)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}

// snippet returns the whole source lines a range covers.
func snippet(src []byte, r hcl.Range) *jsonSnippet {
	lines := strings.Split(string(src), "\n")
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return nil
	}
	end := max(r.End.Line, r.Start.Line)
	end = min(end, len(lines))
	return &jsonSnippet{StartLine: r.Start.Line, Code: strings.Join(lines[r.Start.Line-1:end], "\n")}
}
