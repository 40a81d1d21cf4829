package runtime

import "errors"

// jobError is the failure of one job's part of a repository task (the
// restore test tests every job of the repository): the task reports it
// as a failure of its own, with the job in its error line, so that the
// error log says which job could not be restored.
type jobError struct {
	job string
	err error
}

func (e *jobError) Error() string {
	if e.job == "" {
		return e.err.Error()
	}
	return "job " + e.job + ": " + e.err.Error()
}
func (e *jobError) Unwrap() error { return e.err }

// jobErrorsOf splits a task's error into its jobs' (an errors.Join of
// jobErrors), or returns it whole as one without a job; none for nil.
func jobErrorsOf(err error) []*jobError {
	if err == nil {
		return nil
	}
	if je, ok := err.(*jobError); ok {
		return []*jobError{je}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []*jobError{{err: err}}
	}
	var out []*jobError
	for _, e := range joined.Unwrap() {
		var je *jobError
		if !errors.As(e, &je) || je != e {
			return []*jobError{{err: err}}
		}
		out = append(out, je)
	}
	return out
}
