package lab

import (
	"context"
	"fmt"
)

// CutFromRoot cuts the link between h and the root namespace only: h drops
// every packet it would send to the root namespace's bridge address (a
// blackhole route in h's namespace), so a manager running in the test
// process (root namespace) sees h time out, while the other lab hosts keep
// reaching h and h keeps reaching them. HealFromRoot undoes it.
func (h *Host) CutFromRoot(ctx context.Context) error {
	if _, err := run(ctx, bin("ip"), "-n", h.NS, "route", "add", "blackhole", h.lab.BridgeIP+"/32"); err != nil {
		return fmt.Errorf("lab: cut %s from the root namespace: %w", h.Name, err)
	}
	return nil
}

// HealFromRoot removes the route CutFromRoot added.
func (h *Host) HealFromRoot(ctx context.Context) error {
	if _, err := run(ctx, bin("ip"), "-n", h.NS, "route", "del", "blackhole", h.lab.BridgeIP+"/32"); err != nil {
		return fmt.Errorf("lab: heal %s's link to the root namespace: %w", h.Name, err)
	}
	return nil
}
