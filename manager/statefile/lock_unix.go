//go:build unix

package statefile

import (
	"os"
	"syscall"
	"time"
)

// lockExclusive takes an exclusive flock on f, released when f is closed.
func lockExclusive(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockShared takes a shared flock on f if it gets one within a second and
// returns its release. A writer holds its lock for one rename, so waiting
// longer would only hang a status check behind a stuck process; the file is
// replaced atomically and reads correctly without the lock.
func lockShared(f *os.File) (unlock func()) {
	deadline := time.Now().Add(time.Second)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
		}
		if time.Now().After(deadline) {
			return func() {}
		}
		time.Sleep(10 * time.Millisecond)
	}
}
