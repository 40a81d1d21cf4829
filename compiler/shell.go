package compiler

import (
	"fmt"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// What bakc can tell about a hook's shell command before it runs: the
// command is parsed with a real shell parser (mvdan.cc/sh, bash's
// grammar, which accepts every POSIX sh script) and walked for two
// kinds of fact that decide whether it can work in its service. Only
// words written literally are looked at: a path built from a variable
// or a command substitution cannot be known here, and bakc says nothing
// about it rather than guess.

// shellFacts are what analyzeShell found in a script.
type shellFacts struct {
	// Writes are the files the script writes by a redirection or by a
	// well-known writing command, as absolute paths.
	Writes []shellWrite
	// Commands are the literal command words, in order, each once.
	Commands []shellWord
	// Secrets are the variables and options the script gives a secret
	// written out literally (hooksecrets.go), by name.
	Secrets []shellWord
}

// shellWrite is one write: the path and how the script writes it.
type shellWrite struct {
	Path string
	// How is what the script says: "> /x", "tee /x", "cp … /x".
	How       string
	Line, Col uint
}

// shellWord is a command word and where the script has it.
type shellWord struct {
	Name      string
	Line, Col uint
}

// shellError is a script the parser refuses.
type shellError struct {
	Line, Col uint
	Msg       string
}

func (e *shellError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// hookDir is the folder hooks run from; a relative path is read from it.
const hookDir = "/"

// writingCommands are the programs whose file arguments analyzeShell
// reads as written: kept small and exact, so that a finding is a fact.
// The value says which arguments are targets.
var writingCommands = map[string]targetRule{
	"tee":   allOperands, // tee [-a] FILE…
	"touch": allOperands, // touch FILE…
	"mkdir": allOperands, // mkdir [-p] DIR…
	"rm":    allOperands, // rm [-rf] FILE…
	"cp":    lastOperand, // cp [-a] SRC… DEST, or -t DEST
	"mv":    lastOperand, // mv SRC… DEST, or -t DEST
	"dd":    ddOutput,    // dd of=FILE
}

type targetRule int

const (
	allOperands targetRule = iota
	lastOperand
	ddOutput
)

// analyzeShell parses script and returns what it can tell.
func analyzeShell(script string) (*shellFacts, error) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), "")
	if err != nil {
		if pe, ok := err.(syntax.ParseError); ok {
			return nil, &shellError{Line: pe.Pos.Line(), Col: pe.Pos.Col(), Msg: pe.Text}
		}
		if le, ok := err.(syntax.LangError); ok {
			return nil, &shellError{Line: le.Pos.Line(), Col: le.Pos.Col(), Msg: le.Error()}
		}
		return nil, &shellError{Line: 1, Col: 1, Msg: err.Error()}
	}
	facts := &shellFacts{}
	funcs := map[string]bool{}
	changesDir := false
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			funcs[n.Name.Value] = true
		case *syntax.CallExpr:
			if len(n.Args) > 0 {
				if name, ok := literal(n.Args[0]); ok && (name == "cd" || name == "pushd") {
					changesDir = true
				}
			}
		}
		return true
	})
	resolve := func(p string) (string, bool) {
		switch {
		case p == "" || p == "-":
			return "", false
		case strings.HasPrefix(p, "/"):
			return path.Clean(p), true
		case changesDir || strings.HasPrefix(p, "~"):
			// Relative to a folder bakc cannot know.
			return "", false
		}
		return path.Join(hookDir, p), true
	}
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.Assign:
			if n.Name != nil && n.Value != nil {
				if v, ok := literal(n.Value); ok && literalSecret(n.Name.Value, v) {
					facts.Secrets = append(facts.Secrets, shellWord{Name: n.Name.Value, Line: n.Pos().Line(), Col: n.Pos().Col()})
				}
			}
		case *syntax.Stmt:
			for _, r := range n.Redirs {
				switch r.Op {
				case syntax.RdrOut, syntax.AppOut, syntax.RdrInOut, syntax.RdrClob, syntax.RdrAll, syntax.AppAll:
				default:
					continue
				}
				if r.Word == nil {
					continue
				}
				if lit, ok := literal(r.Word); ok {
					if p, ok := resolve(lit); ok {
						facts.Writes = append(facts.Writes, shellWrite{Path: p, How: r.Op.String() + " " + lit, Line: r.Pos().Line(), Col: r.Pos().Col()})
					}
				}
			}
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				return true
			}
			for _, a := range n.Args[1:] {
				if v, ok := literal(a); ok {
					if name := argSecret(v); name != "" {
						facts.Secrets = append(facts.Secrets, shellWord{Name: name, Line: a.Pos().Line(), Col: a.Pos().Col()})
					}
				}
			}
			name, ok := literal(n.Args[0])
			if !ok {
				return true
			}
			if !seen[name] && !funcs[name] {
				seen[name] = true
				facts.Commands = append(facts.Commands, shellWord{Name: name, Line: n.Args[0].Pos().Line(), Col: n.Args[0].Pos().Col()})
			}
			rule, writes := writingCommands[path.Base(name)]
			if !writes {
				return true
			}
			for _, t := range commandTargets(rule, n.Args[1:]) {
				if p, ok := resolve(t.value); ok {
					facts.Writes = append(facts.Writes, shellWrite{Path: p, How: path.Base(name) + " … " + t.value, Line: t.word.Pos().Line(), Col: t.word.Pos().Col()})
				}
			}
		}
		return true
	})
	return facts, nil
}

// target is a literal argument a writing command writes to.
type target struct {
	value string
	word  *syntax.Word
}

// commandTargets picks the written arguments of a writing command by
// its rule. An argument that is not a literal word stops the reading
// of a lastOperand command (the last operand is not known then).
func commandTargets(rule targetRule, args []*syntax.Word) []target {
	var operands []target
	var dest *target
	known := true
	endOfOptions := false
	for i := 0; i < len(args); i++ {
		v, ok := literal(args[i])
		if !ok {
			known = false
			continue
		}
		switch {
		case rule == ddOutput:
			if of, ok := strings.CutPrefix(v, "of="); ok {
				operands = append(operands, target{of, args[i]})
			}
			continue
		case !endOfOptions && v == "--":
			endOfOptions = true
			continue
		case !endOfOptions && (v == "-t" || v == "--target-directory") && i+1 < len(args):
			if d, ok := literal(args[i+1]); ok {
				dest = &target{d, args[i+1]}
			}
			i++
			continue
		case !endOfOptions && strings.HasPrefix(v, "--target-directory="):
			dest = &target{strings.TrimPrefix(v, "--target-directory="), args[i]}
			continue
		case !endOfOptions && strings.HasPrefix(v, "-") && v != "-":
			continue
		}
		operands = append(operands, target{v, args[i]})
	}
	switch rule {
	case lastOperand:
		if dest != nil {
			return []target{*dest}
		}
		if !known || len(operands) < 2 {
			return nil
		}
		return operands[len(operands)-1:]
	}
	return operands
}

// literal returns a word's value when it is written out literally:
// plain text without backslashes, single quotes, or double quotes around
// plain text. Anything expanded at run time is not literal.
func literal(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, part := range w.Parts {
		switch p := part.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(p.Value, `\*?[`) {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				lit, ok := q.(*syntax.Lit)
				if !ok || strings.Contains(lit.Value, `\`) {
					return "", false
				}
				b.WriteString(lit.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}
