package nas

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSSHOptionQuote(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "forge.example", want: `"forge.example"`},
		{in: `say "hi"`, want: `"say \"hi\""`},
		{in: `a\"b`, want: `"a\\"b"`},
		{in: `a\b`, want: `"a\b"`},
		{in: `trailing\`, wantErr: true},
		{in: "new\nline", wantErr: true},
	}
	for _, tt := range tests {
		got, err := sshOptionQuote(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("sshOptionQuote(%q): error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("sshOptionQuote(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestCheckPublicKey(t *testing.T) {
	for key, ok := range map[string]bool{
		testKey: true,
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1iYWtjLW5hcy10ZXN0cy0wMDAx":                         true,
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1iYWtjLW5hcy10ZXN0cy0wMDAx a comment with $(x) 'q'": true,
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1iYWtjLW5hcy10ZXN0cy0wMDAx root@forge":                  false,
		`command="sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRlc3Qta2V5LWZvci1iYWtjLW5hcy10ZXN0cy0wMDAx`:            false,
		"ssh-ed25519 notbase64!":       false,
		"ssh-ed25519 AAAA":             false,
		"ssh-ed25519":                  false,
		"":                             false,
		testKey + "\ncommand=x":        false,
		"ssh-ed25519 AAAAC3NzaC1lZDI1": false,
	} {
		if err := checkPublicKey(key); (err == nil) != ok {
			t.Errorf("checkPublicKey(%q) = %v, want ok %v", key, err, ok)
		}
	}
}
