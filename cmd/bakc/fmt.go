package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"

	"github.com/holthome/bakc/internal/atomicfile"
	"github.com/holthome/bakc/schema"
)

type fmtOptions struct {
	check bool
	diff  bool
	json  bool
}

const fmtLong = `Rewrite HCL files in the canonical format (hclwrite's, as terraform fmt
writes it): aligned equals signs, two-space indentation, normalised spacing.
Each PATH is a file or a folder, searched recursively for *.hcl files
(hidden folders skipped); the default is the current folder. "-" formats
standard input to standard output. Files in HCL's JSON syntax (*.hcl.json)
are never rewritten. The names of the files changed are printed.

A file with a syntax error is not touched: its diagnostics are printed and
the exit code is 1.

Exit codes:
  0  success: every file is formatted (or, with --check, already was)
  1  a file has a syntax error, or with --check a file is not formatted
  2  usage error`

func newFmtCmd(e *env) *cobra.Command {
	var opts fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [PATH...]",
		Short: "Rewrite HCL files in the canonical format",
		Long:  fmtLong,
		Example: `  bakc fmt                 # every *.hcl below the current folder
  bakc fmt --check hosts   # exit 1 and list the files that need formatting`,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			return runFmt(e, opts, args)
		},
	}
	cmd.Flags().BoolVar(&opts.check, "check", false, "write nothing; list the files that are not formatted and exit 1 if there are any")
	cmd.Flags().BoolVar(&opts.diff, "diff", false, "also print, for each file changed, its old and new lines")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print diagnostics as JSON on stderr")
	return cmd
}

func runFmt(e *env, opts fmtOptions, args []string) error {
	if len(args) == 1 && args[0] == "-" {
		src, err := io.ReadAll(e.stdin)
		if err != nil {
			return err
		}
		out, files, diags := formatHCL(src, "<stdin>")
		if diags.HasErrors() {
			printFileDiagnostics(e, files, diags, opts.json)
			return silentExit(exitConfig)
		}
		if opts.check && !bytes.Equal(src, out) {
			return silentExit(exitConfig)
		}
		if !opts.check {
			_, err = e.stdout.Write(out)
		}
		return err
	}
	files, err := fmtFiles(args)
	if err != nil {
		return err
	}
	failed, unformatted := false, false
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		out, files, diags := formatHCL(src, name)
		if diags.HasErrors() {
			printFileDiagnostics(e, files, diags, opts.json)
			failed = true
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		unformatted = true
		fmt.Fprintln(e.stdout, name)
		if opts.diff {
			printLineDiff(e.stdout, src, out)
		}
		if opts.check {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return err
		}
		if err := atomicfile.Write(name, out, st.Mode().Perm()); err != nil {
			return err
		}
	}
	if failed || opts.check && unformatted {
		return silentExit(exitConfig)
	}
	return nil
}

// fmtFiles expands the PATH arguments to the *.hcl files to format,
// sorted and without duplicates.
func fmtFiles(args []string) ([]string, error) {
	seen := map[string]bool{}
	var files []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, usageError("%v", err)
		}
		if !st.IsDir() {
			if strings.HasSuffix(arg, schema.JSONSuffix) {
				continue // JSON syntax is left as its generator wrote it
			}
			add(arg)
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != arg && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".hcl") && !strings.HasPrefix(d.Name(), ".") {
				add(p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(files)
	return files, nil
}

// formatHCL checks that src is valid native HCL and formats it with
// hclwrite. A file that does not parse is never rewritten: hclwrite
// would format its tokens anyway, possibly into something else.
func formatHCL(src []byte, name string) ([]byte, map[string]*hcl.File, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	files := map[string]*hcl.File{name: file}
	if diags.HasErrors() {
		return nil, files, diags
	}
	return hclwrite.Format(src), files, nil
}

// printLineDiff prints the lines of old and new that differ, marked -
// and +, after a common prefix and before a common suffix: enough to see
// what fmt changes, without a diff library.
func printLineDiff(w io.Writer, old, new []byte) {
	a := strings.Split(string(old), "\n")
	b := strings.Split(string(new), "\n")
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	fmt.Fprintf(w, "@@ line %d @@\n", pre+1)
	for _, l := range a[pre : len(a)-suf] {
		fmt.Fprintf(w, "-%s\n", l)
	}
	for _, l := range b[pre : len(b)-suf] {
		fmt.Fprintf(w, "+%s\n", l)
	}
}
