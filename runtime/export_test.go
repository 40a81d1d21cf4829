package runtime

// LetDumpStdinEnd makes restic's stdin end with the dump command's
// output, as it would if bakc did not hold it open, for the test of the
// snapshot forgotten after a failed dump; it returns the undo. Tests that
// use it must not run in parallel.
func LetDumpStdinEnd() (undo func()) {
	holdDumpStdin = false
	return func() { holdDumpStdin = true }
}
