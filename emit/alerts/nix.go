package alerts

import (
	"fmt"
	"strings"

	"github.com/holthome/bakc/escape"
)

// RulesNix is a NixOS module for the monitoring host that gives
// Prometheus the rules file as a file of its own
// (services.prometheus.ruleFiles), not as a string of
// services.prometheus.rules: nixpkgs joins every module's rules strings
// into one file, where a second `groups:` key of another module would
// make the YAML invalid. nixpkgs checks every rules file with
// `promtool check rules` when it builds the configuration.
func RulesNix(rules []byte, sources []string) ([]byte, error) {
	text, err := indented(rules, "bakc-alerts.yml", "      ", "    ")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(header(sources))
	b.WriteString("# Prometheus alerting rules for the monitoring host (bakc alerts --format nix).\n")
	b.WriteString("{ pkgs, ... }:\n\n{\n  services.prometheus.ruleFiles = [\n")
	fmt.Fprintf(&b, "    (pkgs.writeText \"bakc-alerts.yml\" %s)\n", text)
	b.WriteString("  ];\n}\n")
	return []byte(b.String()), nil
}

// DashboardNix is a NixOS module for the monitoring host that provisions
// the dashboard (services.grafana.provision.dashboards): a provider of
// its own whose folder holds only the dashboard's file.
func DashboardNix(dashboard []byte, sources []string) ([]byte, error) {
	text, err := indented(dashboard, "the dashboard", "        ", "      ")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(header(sources))
	b.WriteString("# The Grafana dashboard of the fleet's backups (bakc dashboard --format nix).\n")
	b.WriteString("{ pkgs, ... }:\n\n{\n  services.grafana.provision.dashboards.settings.providers = [\n    {\n")
	b.WriteString("      name = \"bakc\";\n")
	b.WriteString("      options.path = pkgs.writeTextDir \"bakc.json\" " + text + ";\n")
	b.WriteString("    }\n  ];\n}\n")
	return []byte(b.String()), nil
}

// indented is text as a Nix indented string, by the tested escaping
// function; text that it cannot carry is an error, never a guess.
func indented(text []byte, what, indent, closeIndent string) (string, error) {
	s := string(text)
	if err := escape.CheckNixIndentedString(s); err != nil {
		return "", fmt.Errorf("%s cannot be written as a Nix string: %w", what, err)
	}
	return escape.NixIndentedString(s, indent, closeIndent), nil
}
