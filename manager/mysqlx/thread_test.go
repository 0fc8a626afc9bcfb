package mysqlx

import "testing"

func TestParseIOThread(t *testing.T) {
	for _, tc := range []struct {
		in        string
		want      IOThread
		connected bool
		str       string
	}{
		{"Yes", IOConnected, true, "Yes"},
		{"yes", IOConnected, true, "Yes"},
		{"Connecting", IOConnecting, false, "Connecting"},
		{"CONNECTING", IOConnecting, false, "Connecting"},
		{"No", IOStopped, false, "No"},
		{" No ", IOStopped, false, "No"},
		{"", IOUnknown, false, "unknown"},
		{"Preparing", IOThread("Preparing"), false, "Preparing"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := ParseIOThread(tc.in)
			if got != tc.want || got.Connected() != tc.connected || got.String() != tc.str {
				t.Errorf("ParseIOThread(%q) = %q (connected %t, %q), want %q (connected %t, %q)",
					tc.in, string(got), got.Connected(), got.String(), tc.want, tc.connected, tc.str)
			}
		})
	}
}
