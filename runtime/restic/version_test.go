package restic_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/holthome/bakc/runtime/restic"
	"github.com/holthome/bakc/runtime/restic/restictest"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name, out string
		want      restic.Version
		retryLock bool
		stuck     bool // --stuck-request-timeout
		err       bool
	}{
		{name: "Debian's 0.14", out: "restic 0.14.0 compiled with go1.19.8 on linux/amd64\n", want: restic.Version{0, 14, 0}},
		{name: "0.16 has --retry-lock", out: "restic 0.16.0 compiled with go1.21 on linux/amd64", want: restic.Version{0, 16, 0}, retryLock: true},
		{name: "0.17.0 has no --stuck-request-timeout", out: "restic 0.17.0 compiled with go1.22.5 on linux/amd64", want: restic.Version{0, 17, 0}, retryLock: true},
		{name: "0.17.1 has it", out: "restic 0.17.1 compiled with go1.23.0 on linux/amd64", want: restic.Version{0, 17, 1}, retryLock: true, stuck: true},
		{name: "0.18.1", out: "restic 0.18.1 compiled with go1.24.1 on linux/amd64", want: restic.Version{0, 18, 1}, retryLock: true, stuck: true},
		{name: "0.18.0", out: "restic 0.18.0 compiled with go1.24.1 on linux/amd64", want: restic.Version{0, 18, 0}, retryLock: true, stuck: true},
		{name: "a development build", out: "restic 0.18.1-dev (compiled manually) compiled with go1.24 on linux/amd64", want: restic.Version{0, 18, 1}, retryLock: true, stuck: true},
		{name: "a 1.0 one day", out: "restic 1.0 compiled with go1.30", want: restic.Version{1, 0, 0}, retryLock: true, stuck: true},
		{name: "not restic", out: "rustic 0.9.0", err: true},
		{name: "garbage version", out: "restic x.y.z", err: true},
		{name: "empty", out: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := restic.ParseVersion(tt.out)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("version (-want +got):\n%s", diff)
			}
			if got.HasRetryLock() != tt.retryLock {
				t.Errorf("%v.HasRetryLock() = %v, want %v", got, got.HasRetryLock(), tt.retryLock)
			}
			if got.HasStuckRequestTimeout() != tt.stuck {
				t.Errorf("%v.HasStuckRequestTimeout() = %v, want %v", got, got.HasStuckRequestTimeout(), tt.stuck)
			}
		})
	}
}

// DetectVersion runs `restic version` once per binary and process, and
// reads each real restic's version right.
func TestDetectVersionOncePerProcess(t *testing.T) {
	for _, r := range restictest.Restics(t) {
		t.Run(r.Version, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "count")
			stand := filepath.Join(dir, "restic")
			require.NoError(t, os.WriteFile(stand, []byte("#!/bin/sh\necho x >> "+count+"\nexec "+r.Path+" \"$@\"\n"), 0o755))
			for i := 0; i < 3; i++ {
				v, err := restic.DetectVersion(context.Background(), stand)
				require.NoError(t, err)
				if v.String() != r.Version {
					t.Errorf("version %s, want %s", v, r.Version)
				}
			}
			b, err := os.ReadFile(count)
			require.NoError(t, err)
			if n := strings.Count(string(b), "x"); n != 1 {
				t.Errorf("restic version ran %d times, want once", n)
			}
		})
	}
}
