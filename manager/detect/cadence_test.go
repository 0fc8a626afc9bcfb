package detect

import (
	"testing"
	"time"
)

func TestRetryCadence(t *testing.T) {
	for _, tt := range []struct {
		interval time.Duration
		failures int
		want     time.Duration
	}{
		{time.Second, 0, time.Second},
		{time.Second, 1, 250 * time.Millisecond},
		{3 * time.Second, 2, 750 * time.Millisecond},
		{400 * time.Millisecond, 1, 250 * time.Millisecond},
		{100 * time.Millisecond, 3, 100 * time.Millisecond},
	} {
		if got := retryCadence(tt.interval, tt.failures); got != tt.want {
			t.Errorf("retryCadence(%s, %d) = %s; want %s", tt.interval, tt.failures, got, tt.want)
		}
	}
}
