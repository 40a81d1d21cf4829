package runtime

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// envName is a variable name restic or a cloud SDK could read.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readEnvironmentFile reads a repository's environment file (cloud
// credentials) in the subset of systemd's EnvironmentFile= syntax that
// such files use: KEY=value lines, blank lines and lines starting with #
// or ; ignored, an optional "export " before the name, a value wholly in
// matching single or double quotes unquoted. Errors name the line, never
// its value: the file holds secrets.
func readEnvironmentFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseEnvironment(path, string(data))
}

func parseEnvironment(path, text string) ([]string, error) {
	var env []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !envName.MatchString(name) {
			return nil, fmt.Errorf("%s:%d: not a KEY=value line", path, i+1)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		env = append(env, name+"="+value)
	}
	return env, nil
}
