package runtime

import "github.com/holthome/bakc/internal/envfile"

// readEnvironmentFile reads a repository's environment file (cloud
// credentials) exactly as systemd reads EnvironmentFile= (package
// envfile), so that restic gets the same variables from a backup as
// from the runbook's restore commands, which have systemd read the file.
// Errors name the line, never its value: the file holds secrets.
func readEnvironmentFile(path string) ([]string, error) {
	return envfile.ReadFile(path)
}

// parseEnvironment parses text read from path.
func parseEnvironment(path, text string) ([]string, error) {
	return envfile.Parse(path, text)
}
