package sshexec

import "testing"

func TestReach(t *testing.T) {
	for _, tc := range []struct {
		mha  int
		want Reach
		str  string
		back int
	}{
		{0, Unreachable, "unreachable", 0},
		{1, Reachable, "reachable", 1},
		{2, ReachUnknown, "unknown", 2},
		{-1, ReachUnknown, "unknown", 2},
		{3, ReachUnknown, "unknown", 2},
	} {
		r := FromMHA(tc.mha)
		if r != tc.want || r.String() != tc.str || r.MHA() != tc.back {
			t.Errorf("FromMHA(%d) = %v (%d), want %v (%d)", tc.mha, r, r.MHA(), tc.want, tc.back)
		}
	}
	if ReachOf(true) != Reachable || ReachOf(false) != Unreachable {
		t.Errorf("ReachOf(true) = %v, ReachOf(false) = %v", ReachOf(true), ReachOf(false))
	}
	var zero Reach
	if zero != ReachUnknown {
		t.Errorf("the zero Reach is %v, want unknown", zero)
	}
}
