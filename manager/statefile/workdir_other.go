//go:build !unix

package statefile

// CheckWorkdir is a no-op where file ownership is not Unix's.
func CheckWorkdir(string) error { return nil }
