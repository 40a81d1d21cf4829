package escape

import (
	"fmt"
	"strings"
)

// CheckSystemdEnvironment reports why NAME=value cannot be written with
// SystemdEnvironment, or nil. systemd accepts a variable name of ASCII
// letters, digits and "_" not starting with a digit, and a value without
// control characters; text must be UTF-8.
func CheckSystemdEnvironment(name, value string) error {
	if name == "" {
		return fmt.Errorf("has an empty variable name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isASCIILetterByte(c) || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return fmt.Errorf("variable name %q holds %q; only letters, digits and _ are allowed", name, c)
		}
	}
	return checkText(value, "")
}

func isASCIILetterByte(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// SystemdEnvironment returns NAME=value as one word of Environment=.
// systemd splits that setting into words, removing quotes and
// C-unescaping them, then expands % specifiers, and never expands $ in
// it: so every % becomes %%, and an assignment with a space, a quote or
// a backslash is put in double quotes with \" and \\ inside.
//
// name and value must pass CheckSystemdEnvironment; SystemdEnvironment
// panics otherwise.
func SystemdEnvironment(name, value string) string {
	if err := CheckSystemdEnvironment(name, value); err != nil {
		panic(fmt.Sprintf("escape.SystemdEnvironment(%q, %q): %v; reject it with CheckSystemdEnvironment first", name, value, err))
	}
	w := strings.ReplaceAll(name+"="+value, "%", "%%")
	if !strings.ContainsAny(w, " \t\"'\\") {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if c := w[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}
