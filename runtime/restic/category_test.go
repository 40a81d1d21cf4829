package restic

import "testing"

// The stderr samples are what restic 0.14 and 0.18 print (copied from
// real runs); the real runs themselves are in restic_test.go.
func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		code   int
		stderr string
		want   Category
	}{
		{"0.18 partial", 3, `{"message_type":"exit_error","code":3,"message":"Warning: at least one source file could not be read"}`, CategorySource},
		{"0.18 no repository", 10, `{"message_type":"exit_error","code":10,"message":"Fatal: repository does not exist: unable to open config file"}`, CategoryStorage},
		{"0.18 locked", 11, "", CategoryLock},
		{"0.18 wrong password", 12, "", CategoryAuth},
		{"0.18 interrupted", 130, "", CategoryResource},
		{"killed", 137, "", CategoryResource},
		{"partial wins over a permission pattern", 3, "open /x: permission denied", CategorySource},
		{"0.14 wrong password", 1, "Fatal: wrong password or no key found", CategoryAuth},
		{"0.14 no repository", 1, "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r", CategoryStorage},
		{"0.14 locked", 1, "unable to create lock in backend: repository is already locked exclusively by PID 25024 on vm by root (UID 0, GID 0)\nlock was created at 2026-11-26 10:16:40 (1.5s ago)", CategoryLock},
		{"0.14 password file missing", 1, "Resolving password failed: Fatal: /run/pw does not exist", CategoryAuth},
		{"disk full", 1, "Fatal: unable to save snapshot: open /r/snapshots/x: no space left on device", CategoryStorage},
		{"read-only", 1, "Fatal: create repository at /r failed: mkdir /r/data: read-only file system", CategoryStorage},
		{"sftp unreachable", 1, "subprocess ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused\nFatal: unable to open repository at sftp:x@127.0.0.1:/r: unable to start the sftp session, error: EOF", CategoryNetwork},
		{"0.14 sftp host key changed", 1, "subprocess ssh: @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nsubprocess ssh: Host key verification failed.\nFatal: unable to open repository at sftp://root@127.0.0.1:44429//r: unable to start the sftp session, error: EOF", CategoryAuth},
		{"0.18 sftp key refused", 1, "subprocess ssh: root@127.0.0.1: Permission denied (publickey).\n{\"message_type\":\"exit_error\",\"code\":1,\"message\":\"Fatal: unable to open repository at sftp://root@127.0.0.1:33005//r: unable to start the sftp session, error: error receiving version packet from server: server unexpectedly closed connection: unexpected EOF\"}", CategoryAuth},
		{"sftp host unknown", 1, "subprocess ssh: No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nsubprocess ssh: Host key verification failed.", CategoryAuth},
		{"rest unreachable", 1, "Fatal: unable to open config file: Head \"http://nas:8000/config\": dial tcp 10.0.0.1:8000: connect: no route to host", CategoryNetwork},
		{"0.18 b2 unreachable, name lookup", 1, `{"message_type":"exit_error","code":1,"message":"Fatal: unable to open repository at b2:bucket-name:/forge: dial tcp: lookup api.backblazeb2.com: Temporary failure in name resolution"}`, CategoryNetwork},
		{"0.18 b2 unreachable, restic's deadline", 1, `{"message_type":"exit_error","code":1,"message":"Fatal: unable to open repository at b2:bucket-name:/forge: context deadline exceeded"}`, CategoryNetwork},
		{"repository folder not ours", 1, "Fatal: unable to create lock in backend: open /r/locks/x: permission denied", CategoryPermission},
		{"repository permission", 1, "Fatal: unable to save snapshot: open /r/snapshots/x: permission denied", CategoryPermission},
		{"corrupt pack", 1, "Fatal: repository contains errors", CategoryCorruption},
		{"ciphertext", 1, "Load(<data/1234>, 0, 0) returned error: ciphertext verification failed", CategoryCorruption},
		{"0.18 damaged pack", 1, "Fatal: cannot dump file: decrypting blob <data/8ed3f6ad> from ea132817 failed: nonce is invalid", CategoryCorruption},
		{"out of memory", 2, "fatal error: runtime: cannot allocate memory", CategoryResource},
		{"nothing recognisable", 1, "Fatal: something new", CategoryUnknown},
		{"empty", 1, "", CategoryUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.code, tt.stderr); got != tt.want {
				t.Errorf("Classify(%d, %q) = %s, want %s", tt.code, tt.stderr, got, tt.want)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name, stderr, want string
	}{
		{"0.18 exit_error, multi-line", "{\"message_type\":\"exit_error\",\"code\":10,\"message\":\"Fatal: repository does not exist\\nIs there a repository at the following location?\\n/r\"}\n",
			"Fatal: repository does not exist; Is there a repository at the following location?; /r"},
		{"0.14 fatal line before hints", "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n",
			"Fatal: unable to open config file: stat /r/config: no such file or directory"},
		{"0.18 error object", `{"message_type":"error","error":{"message":"open /x: permission denied"},"during":"archival","item":"/x"}`,
			"/x: open /x: permission denied"},
		{"0.14 lock: restic's age of the lock and its advice are kept",
			"unable to create lock in backend: repository is already locked exclusively by PID 23116 on vm by root (UID 0, GID 0)\nlock was created at 2026-11-30 00:10:43 (14.083901324s ago)\nstorage ID 7abebf26\nthe `unlock` command can be used to remove stale locks\n",
			"unable to create lock in backend: repository is already locked exclusively by PID 23116 on vm by root (UID 0, GID 0); lock was created at 2026-11-30 00:10:43 (14.083901324s ago); storage ID 7abebf26; the `unlock` command can be used to remove stale locks"},
		{"0.18 forget lock, after its retry line",
			"repo already locked, waiting up to 0s for the lock\nunable to create lock in backend: repository is already locked by PID 26151 on vm by bakc (UID 2049, GID 2049)\nlock was created at 2026-11-30 00:15:58 (1.2s ago)\nstorage ID 0c2e4f1a\nthe `unlock` command can be used to remove stale locks\n",
			"unable to create lock in backend: repository is already locked by PID 26151 on vm by bakc (UID 2049, GID 2049); lock was created at 2026-11-30 00:15:58 (1.2s ago); storage ID 0c2e4f1a; the `unlock` command can be used to remove stale locks"},
		{"ssh's words before restic's", "subprocess ssh: root@127.0.0.1: Permission denied (publickey).\n{\"message_type\":\"exit_error\",\"code\":1,\"message\":\"Fatal: unable to open repository at sftp://x//r: unable to start the sftp session, error: EOF\"}\n",
			"ssh: root@127.0.0.1: Permission denied (publickey). — Fatal: unable to open repository at sftp://x//r: unable to start the sftp session, error: EOF"},
		{"last line otherwise", "a\nb\n\n", "b"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message(tt.stderr); got != tt.want {
				t.Errorf("message() = %q, want %q", got, tt.want)
			}
		})
	}
}

// fullRE stops restic at a write that failed for a full repository, as
// restic 0.14 and 0.18 print it, and not at a file that merely has such
// a name.
func TestFullRE(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"Save(<data/c58db4361c>) returned error, retrying after 1.4s: write /r/data/c5/c58d-tmp-2596728871: disk quota exceeded", true},
		{"Save(<data/906e271dbb>) returned error, retrying after 720ms: open /r/data/90/906e-tmp-2892320354: disk quota exceeded", true},
		{"Fatal: unable to save snapshot: open /r/snapshots/x: no space left on device", true},
		{`{"message_type":"error","error":{"message":"write /r/data/x: No space left on device"},"during":"archival","item":""}`, true},
		{`{"message_type":"error","error":{"message":"open /home/u/disk quota exceeded.txt: permission denied"},"item":"/home/u/disk quota exceeded.txt"}`, false},
		{"error: lstat /src/no space left on device: no such file or directory", false},
		{"Save(<data/060858fa17>) operation successful after 1 retries", false},
	}
	for _, tt := range tests {
		if got := fullRE.MatchString(tt.line); got != tt.want {
			t.Errorf("fullRE.Match(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
