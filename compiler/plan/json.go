package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Marshal encodes a plan as indented JSON with a trailing newline. Field
// order is the struct order and every list is already sorted, so the
// bytes are deterministic.
func Marshal(p *Plan) ([]byte, error) { return marshal(p) }

// MarshalNAS encodes a NAS plan the same way as Marshal.
func MarshalNAS(p *NASPlan) ([]byte, error) { return marshal(p) }

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Paths and hooks may hold <, > and &; keep them readable.
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode reads a plan strictly and validates it (Validate): the plan is
// a contract between the compiler and the runtime, which acts on it as
// root, so anything the compiler would not have written is refused
// rather than run half-understood. The JSON must be exactly one object
// whose member names match the plan's fields exactly: no unknown member,
// none in another case ("PATHS" is not "paths"), none twice, nothing
// after the object. encoding/json accepts all four; encoding/json/v2
// refuses them by default but is an experiment in Go 1.26
// (GOEXPERIMENT=jsonv2), so its mirror github.com/go-json-experiment/json
// decodes here (it becomes the standard library's with Go 1.27).
//
// The version is read first, leniently, so that a plan of another
// version is refused for its version, not for a field this build does
// not know.
func Decode(r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	var head struct {
		Version int `json:"version"`
	}
	if jsonv2.Unmarshal(data, &head) == nil && head.Version != Version {
		return nil, fmt.Errorf("plan version %d, but this bakc reads version %d: recompile the plan with this bakc", head.Version, Version)
	}
	var p Plan
	if err := jsonv2.Unmarshal(data, &p, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, decodeError(err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// decodeError says where in the plan decoding failed, as a field path
// like Validate's (jobs[0].paths) rather than a JSON pointer.
func decodeError(err error) error {
	var sem *jsonv2.SemanticError
	var syn *jsontext.SyntacticError
	switch {
	case errors.As(err, &sem) && errors.Is(sem.Err, jsonv2.ErrUnknownName):
		return fmt.Errorf("decoding plan: %s: unknown field (field names are exact and case-sensitive)", fieldPath(sem.JSONPointer))
	case errors.As(err, &sem):
		return fmt.Errorf("decoding plan: %s: %w", fieldPath(sem.JSONPointer), err)
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return fmt.Errorf("decoding plan: %s: given twice", fieldPath(syn.JSONPointer))
	case errors.As(err, &syn):
		return fmt.Errorf("decoding plan: %s: %w", fieldPath(syn.JSONPointer), err)
	}
	return fmt.Errorf("decoding plan: %w", err)
}

// fieldPath turns a JSON pointer (/jobs/0/paths) into a field path
// (jobs[0].paths); the plan has no maps, so a number is a list index.
func fieldPath(ptr jsontext.Pointer) string {
	var b strings.Builder
	for tok := range ptr.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "(top level)"
	}
	return b.String()
}

// ReadFile decodes the plan stored in the file at path.
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Job returns the job with the given name.
func (p *Plan) Job(name string) (*Job, bool) {
	for i := range p.Jobs {
		if p.Jobs[i].Name == name {
			return &p.Jobs[i], true
		}
	}
	return nil, false
}

// Repository returns the repository with the given name.
func (p *Plan) Repository(name string) (*Repository, bool) {
	for i := range p.Repositories {
		if p.Repositories[i].Name == name {
			return &p.Repositories[i], true
		}
	}
	return nil, false
}
