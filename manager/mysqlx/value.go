package mysqlx

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// errNull reports a NULL where a value is required.
var errNull = errors.New("unexpected NULL")

// text renders a driver value as text; null is true for SQL NULL. Text
// protocol results arrive as []byte, prepared-statement results as typed
// values.
func text(v any) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case []byte:
		return string(x), false
	case string:
		return x, false
	case int64:
		return strconv.FormatInt(x, 10), false
	case uint64:
		return strconv.FormatUint(x, 10), false
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), false
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), false
	case bool:
		if x {
			return "1", false
		}
		return "0", false
	case time.Time:
		return x.Format("2006-01-02 15:04:05.999999"), false
	}
	return fmt.Sprint(v), false
}

// str is text with NULL as "".
func str(v any) string {
	s, _ := text(v)
	return s
}

func toInt64(v any) (int64, error) {
	s, null := text(v)
	if null {
		return 0, errNull
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

func toUint64(v any) (uint64, error) {
	s, null := text(v)
	if null {
		return 0, errNull
	}
	return strconv.ParseUint(strings.TrimSpace(s), 10, 64)
}

func toUint32(v any) (uint32, error) {
	s, null := text(v)
	if null {
		return 0, errNull
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	return uint32(n), err
}

func toInt(v any) (int, error) {
	n, err := toInt64(v)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt32 || n < math.MinInt32 {
		return 0, fmt.Errorf("%d out of range", n)
	}
	return int(n), nil
}

func toFloat(v any) (float64, error) {
	s, null := text(v)
	if null {
		return 0, errNull
	}
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

// toBool reads a boolean variable or column: 1/0, ON/OFF, YES/NO,
// TRUE/FALSE. Any other non-empty word counts as true: MariaDB 11 turned
// read_only into an enum whose other values (NO_LOCK, NO_LOCK_NO_ADMIN) are
// all read-only modes.
func toBool(v any) (bool, error) {
	s, null := text(v)
	if null {
		return false, errNull
	}
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "1", "ON", "YES", "TRUE":
		return true, nil
	case "0", "OFF", "NO", "FALSE":
		return false, nil
	case "":
		return false, errors.New("empty boolean")
	}
	return true, nil
}

// assign copies a driver value into a Scan destination.
func assign(dest, v any) error {
	if sc, ok := dest.(sql.Scanner); ok {
		return sc.Scan(v)
	}
	if d, ok := dest.(*any); ok {
		*d = v
		return nil
	}
	s, null := text(v)
	if null {
		switch d := dest.(type) {
		case *[]byte:
			*d = nil
			return nil
		case *string, *int, *int64, *uint64, *uint32, *float64, *bool:
			return errNull
		}
		return fmt.Errorf("unsupported destination %T", dest)
	}
	var err error
	switch d := dest.(type) {
	case *string:
		*d = s
	case *[]byte:
		*d = []byte(s)
	case *int:
		var n int64
		n, err = strconv.ParseInt(s, 10, 0)
		*d = int(n)
	case *int64:
		*d, err = strconv.ParseInt(s, 10, 64)
	case *uint64:
		*d, err = strconv.ParseUint(s, 10, 64)
	case *uint32:
		var n uint64
		n, err = strconv.ParseUint(s, 10, 32)
		*d = uint32(n)
	case *float64:
		*d, err = strconv.ParseFloat(s, 64)
	case *bool:
		*d, err = toBool(v)
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return err
}
