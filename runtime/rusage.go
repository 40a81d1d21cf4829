package runtime

import "golang.org/x/sys/unix"

// peakRSSKiB is the most memory this process (not restic, its child) has
// held at once, in KiB, for the run's last log line: bakc itself should
// stay small while restic does the work.
func peakRSSKiB() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss // KiB on Linux
}
