package leader

import (
	"testing"
	"time"
)

// fakeBackend runs the scenarios on fakeConsul.
type fakeBackend struct {
	c         *fakeConsul
	lockDelay time.Duration
}

func (b *fakeBackend) link(*testing.T, Config) link {
	return &fakeLink{fakeClient: &fakeClient{c: b.c, lockDelay: b.lockDelay}}
}
func (b *fakeBackend) restart(*testing.T)                     { b.c.restart() }
func (b *fakeBackend) destroySession(_ *testing.T, id string) { b.c.destroy(id) }

type fakeLink struct{ *fakeClient }

func (l *fakeLink) store() store { return l.fakeClient }
func (l *fakeLink) cut()         { l.mode.Store(linkBlackhole) }
func (l *fakeLink) heal()        { l.mode.Store(linkUp) }
func (l *fakeLink) kill()        { l.mode.Store(linkRefused) }

// fastConfig is the default timings divided by ten.
func fastConfig() Config {
	return Config{App: "app1", TTL: time.Second, LockDelay: 100 * time.Millisecond, Beat: 100 * time.Millisecond,
		Lease: 300 * time.Millisecond, Evict: 300 * time.Millisecond, Grace: 100 * time.Millisecond,
		Retry: 50 * time.Millisecond, Timeout: 200 * time.Millisecond}
}

// fastLimits: takeover is Evict + Lease + Grace (0.7 s) plus jitter.
var fastLimits = limits{elect: 2 * time.Second, takeover: time.Second}

func fakeBackendFor(cfg Config) *fakeBackend {
	return &fakeBackend{c: newFakeConsul(), lockDelay: cfg.LockDelay}
}

func TestRunElect(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	scenarioElect(t, fakeBackendFor(cfg), cfg, fastLimits)
}

func TestRunTakeoverAfterKill(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	scenarioKill(t, fakeBackendFor(cfg), cfg, fastLimits)
}

func TestRunCutOff(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	scenarioCut(t, fakeBackendFor(cfg), cfg, fastLimits)
}

func TestRunConsulRestart(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	scenarioRestart(t, fakeBackendFor(cfg), cfg, fastLimits)
}

func TestRunSessionDestroyed(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	scenarioDestroyed(t, fakeBackendFor(cfg), cfg, fastLimits)
}
