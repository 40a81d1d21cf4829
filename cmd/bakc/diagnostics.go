package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/holthome/bakc/compiler"
	"github.com/holthome/bakc/schema"
)

// diagnosticsWidth is where diagnostic details wrap: fixed, so that
// output is the same in a terminal, a pipe and a test.
const diagnosticsWidth = 78

// printDiagnostics prints diagnostics to stderr: as Terraform prints
// them (file:line:col, the source line underlined), or with asJSON as
// one line of JSON (see jsonDiagnostics). Nothing is printed when there
// are none.
func printDiagnostics(e *env, f *compiler.Fleet, diags hcl.Diagnostics, asJSON bool) {
	var files map[string]*hcl.File
	if f != nil && len(diags) > 0 {
		files = f.FilesFor(diags)
	}
	printFileDiagnostics(e, files, diags, asJSON)
}

// printFileDiagnostics is printDiagnostics for files outside a fleet.
func printFileDiagnostics(e *env, files map[string]*hcl.File, diags hcl.Diagnostics, asJSON bool) {
	if len(diags) == 0 {
		return
	}
	if asJSON {
		writeJSONDiagnostics(e, files, diags)
		return
	}
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, files, diagnosticsWidth, false)
	// A diagnostic about a secret says where it is, not the line that
	// holds it (schema.SecretDiagnostic).
	noSource := hcl.NewDiagnosticTextWriter(&buf, nil, diagnosticsWidth, false)
	for _, d := range diags {
		buf.Reset()
		if schema.IsSecretDiagnostic(d) {
			_ = noSource.WriteDiagnostic(d)
			text := bytes.Replace(buf.Bytes(), []byte("(source code not available)"), []byte("(the line is not shown: it holds a secret)"), 1)
			_, _ = e.stderr.Write(withColumn(text, d, nil))
			continue
		}
		_ = w.WriteDiagnostic(d)
		_, _ = e.stderr.Write(withColumn(buf.Bytes(), d, files))
	}
}

// withColumn adds what hcl's text writer shows only with colour: the
// column. "on FILE line N" becomes "on FILE:N:C" (the form editors jump
// to), and the subject is underlined with carets below its source line.
func withColumn(text []byte, d *hcl.Diagnostic, files map[string]*hcl.File) []byte {
	s := d.Subject
	if s == nil {
		return text
	}
	out := string(text)
	on := fmt.Sprintf("  on %s line %d", s.Filename, s.Start.Line)
	out = strings.Replace(out, on, fmt.Sprintf("  on %s:%d:%d", s.Filename, s.Start.Line, s.Start.Column), 1)
	file := files[s.Filename]
	if file == nil {
		return []byte(out)
	}
	lines := strings.Split(string(file.Bytes), "\n")
	if s.Start.Line < 1 || s.Start.Line > len(lines) {
		return []byte(out)
	}
	src := strings.TrimSuffix(lines[s.Start.Line-1], "\r")
	prefix := fmt.Sprintf("%4d: ", s.Start.Line)
	i := strings.Index(out, prefix+src+"\n")
	if i < 0 {
		return []byte(out)
	}
	i += len(prefix) + len(src) + 1
	// The underline keeps the source line's tabs, so that it lines up.
	var ul strings.Builder
	ul.WriteString(strings.Repeat(" ", len(prefix)))
	col := 1
	for _, r := range src {
		if col >= s.Start.Column {
			break
		}
		if r == '\t' {
			ul.WriteRune('\t')
		} else {
			ul.WriteRune(' ')
		}
		col++
	}
	n := 1
	if s.End.Line == s.Start.Line && s.End.Column > s.Start.Column {
		n = s.End.Column - s.Start.Column
	} else if s.End.Line > s.Start.Line {
		n = max(1, utf8.RuneCountInString(src)-s.Start.Column+1)
	}
	ul.WriteString(strings.Repeat("^", n))
	ul.WriteString("\n")
	return []byte(out[:i] + ul.String() + out[i:])
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

func writeJSONDiagnostics(e *env, files map[string]*hcl.File, diags hcl.Diagnostics) {
	out := jsonDiagnostics{Valid: !diags.HasErrors(), Diagnostics: []jsonDiagnostic{}}
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
			if file := files[s.Filename]; file != nil && !schema.IsSecretDiagnostic(d) {
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
