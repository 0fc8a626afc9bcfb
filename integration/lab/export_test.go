package lab

// WatchdogPid exposes the watchdog's pid to the crash test.
func WatchdogPid(l *Lab) int {
	if l.watchdog == nil {
		return 0
	}
	return l.watchdog.Process.Pid
}
