package purge

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name, in string
		want     ClientDefaults
		err      string
	}{
		{name: "client group", in: "[mysqld]\nuser=mysql\nport=3307\n[client]\nuser = mha\npassword=\"s3 cret\"\nsocket=/run/mysqld/mysqld.sock\n# comment\n",
			want: ClientDefaults{User: "mha", Password: "s3 cret", Socket: "/run/mysqld/mysqld.sock", HasUser: true, HasPassword: true, HasSocket: true}},
		{name: "later group wins", in: "[client]\nhost=db1\nport=3306\n[client-mariadb]\nport=3310\n[mysql]\nhost=other\n",
			want: ClientDefaults{Host: "db1", Port: 3310, HasHost: true, HasPort: true}},
		{name: "empty password set", in: "[client]\npassword=\n", want: ClientDefaults{HasPassword: true}},
		{name: "bad port names the line only", in: "[client]\npassword=hunter2\nport=hunter2\n", err: "line 3: port is not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDefaults(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
