package escape

import "testing"

func TestSystemdEnvironment(t *testing.T) {
	for _, tt := range []struct {
		name, value, want string
	}{
		{"plain", "/usr/lib/postgresql/15/bin:/usr/bin", "PATH=/usr/lib/postgresql/15/bin:/usr/bin"},
		{"percent", "/opt/100%", "PATH=/opt/100%%"},
		{"space", "/opt/my tools", `"PATH=/opt/my tools"`},
		{"quote and backslash", `/a"b\c`, `"PATH=/a\"b\\c"`},
		{"dollar stays", "/opt/$HOME", "PATH=/opt/$HOME"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SystemdEnvironment("PATH", tt.value); got != tt.want {
				t.Errorf("SystemdEnvironment(PATH, %q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
	for _, bad := range []struct{ name, value string }{{"", "x"}, {"1X", "x"}, {"A-B", "x"}, {"PATH", "a\nb"}, {"PATH", "a\x00b"}} {
		if CheckSystemdEnvironment(bad.name, bad.value) == nil {
			t.Errorf("CheckSystemdEnvironment(%q, %q) accepted it", bad.name, bad.value)
		}
	}
}
