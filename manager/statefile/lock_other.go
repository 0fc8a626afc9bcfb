//go:build !unix

package statefile

import "os"

// lockExclusive does nothing where flock does not exist; the rename alone
// keeps readers consistent.
func lockExclusive(*os.File) error { return nil }

// lockShared does nothing where flock does not exist.
func lockShared(*os.File) (unlock func()) { return func() {} }
