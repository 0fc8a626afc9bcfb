package mysqlx

import (
	"database/sql"
	"testing"
)

func TestRowScan(t *testing.T) {
	r := &Row{addr: "db1:3306", cols: []string{"a", "b", "c", "d", "e", "f"},
		vals: []any{[]byte("42"), int64(-7), nil, []byte("ON"), 3.5, []byte("x")}}
	var (
		a uint64
		b int
		c sql.NullString
		d bool
		e float64
		f any
	)
	if err := r.Scan(&a, &b, &c, &d, &e, &f); err != nil {
		t.Fatal(err)
	}
	if a != 42 || b != -7 || c.Valid || !d || e != 3.5 || string(f.([]byte)) != "x" {
		t.Errorf("got %v %v %v %v %v %v", a, b, c, d, e, f)
	}
	var s string
	if err := (&Row{addr: "db1:3306", cols: []string{"c"}, vals: []any{nil}}).Scan(&s); err == nil {
		t.Error("NULL into *string: want an error")
	}
	if err := r.Scan(&s); err == nil {
		t.Error("wrong number of destinations: want an error")
	}
}

func TestToBool(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "ON": true, "yes": true, "0": false, "OFF": false, "NO_LOCK": true} {
		if got, err := toBool([]byte(in)); err != nil || got != want {
			t.Errorf("toBool(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := toBool(nil); err == nil {
		t.Error("toBool(NULL): want an error")
	}
}
