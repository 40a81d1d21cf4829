package restic_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime/restic"
)

// TestEnvironmentValuesRedacted: what restic writes to stderr reaches
// the log and the error without the values of the repository's
// environment file. The restics here were not seen to print such a
// value (see redact.go), so a stand-in restic, a shell script, prints
// them the way a server's echo would.
func TestEnvironmentValuesRedacted(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "restic")
	require.NoError(t, os.WriteFile(bin, []byte(`#!/bin/sh
echo "b2_authorize_account: 401: bad key $B2_ACCOUNT_KEY for $B2_ACCOUNT_ID (region $R)" >&2
echo "Fatal: unable to open repository: key $B2_ACCOUNT_KEY refused" >&2
exit 1
`), 0o755))
	var log bytes.Buffer
	rs := &restic.Restic{Binary: bin, Repo: "b2:bucket:/x", PasswordFile: "/dev/null",
		Env: []string{"B2_ACCOUNT_ID=0123456789ab", "B2_ACCOUNT_KEY=K005hunter2SECRETkey", "R=eu"},
		Log: slog.New(slog.NewTextHandler(&log, nil))}
	err := rs.Run(context.Background(), []string{"snapshots"}, nil)
	require.Error(t, err)
	re := restic.AsError(err)
	require.NotNil(t, re)
	for _, where := range []struct{ name, text string }{
		{"error", err.Error()}, {"stderr", re.Stderr}, {"message", re.Message}, {"log", log.String()},
	} {
		for _, secret := range []string{"K005hunter2SECRETkey", "0123456789ab"} {
			if strings.Contains(where.text, secret) {
				t.Errorf("the %s holds %q:\n%s", where.name, secret, where.text)
			}
		}
	}
	require.Contains(t, re.Message, "key [B2_ACCOUNT_KEY redacted] refused")
	require.Contains(t, re.Stderr, "(region eu)", "a value shorter than 4 bytes is no credential and stays")
}
