package zfs

import (
	"errors"
	"fmt"
	"strings"

	gozfs "github.com/mistifyio/go-zfs/v3"
)

// PropertyReader reads ZFS properties through go-zfs: one
// `zfs get -H PROPERTY DATASET` per call (go-zfs's Dataset.GetProperty),
// which OpenZFS and zfs-fuse print alike. It is what `bakc nas-plan
// --check` reads a NAS with. It only reads; go-zfs's list functions are
// avoided on purpose (they use `zfs list -Hp` and properties zfs-fuse
// does not have).
//
// Values come as zfs shows them to people ("300G", "128K", "none"), not
// as exact numbers: go-zfs v3 asks without -p.
type PropertyReader struct{}

// Property returns the value of property name on dataset as
// `zfs get -H` prints it. ok is false, with no error, when the dataset
// does not exist; any other failure is an error that carries zfs's own
// message.
func (PropertyReader) Property(dataset, name string) (value string, ok bool, err error) {
	if dataset == "" || strings.HasPrefix(dataset, "-") || name == "" || strings.HasPrefix(name, "-") {
		return "", false, fmt.Errorf("zfs get %q %q: not a dataset and property name", name, dataset)
	}
	v, err := (&gozfs.Dataset{Name: dataset}).GetProperty(name)
	if err != nil {
		if goZFSNotExist(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("zfs get %s %s: %w", name, dataset, err)
	}
	return v, true, nil
}

// goZFSNotExist reports whether a go-zfs error says that the dataset does
// not exist (zfs has no exit codes for it; the phrase is the same in
// OpenZFS and zfs-fuse).
func goZFSNotExist(err error) bool {
	var e *gozfs.Error
	return errors.As(err, &e) && strings.Contains(e.Stderr, "dataset does not exist")
}
