package mysqlx

import (
	"context"
	"fmt"
)

// BinaryLog is one row of SHOW BINARY LOGS: a binary log file and its size
// in bytes.
type BinaryLog struct {
	File string
	Size uint64
}

// BinaryLogs lists the server's binary log files, oldest first (SHOW BINARY
// LOGS; MySQL, and MariaDB, name the columns Log_name and File_size). With
// log_bin off the server answers with an error (ER_NO_BINARY_LOGGING, 1381).
func (c *Conn) BinaryLogs(ctx context.Context) ([]BinaryLog, error) {
	const stmt = "SHOW BINARY LOGS"
	res, err := c.query(ctx, stmt, stmt)
	if err != nil {
		return nil, err
	}
	name, size := -1, -1
	for i, col := range res.cols {
		switch col {
		case "Log_name":
			name = i
		case "File_size":
			size = i
		}
	}
	if name < 0 || size < 0 {
		return nil, c.errorf(stmt, fmt.Errorf("%w Log_name or File_size", ErrMissingColumn))
	}
	logs := make([]BinaryLog, 0, len(res.rows))
	for _, row := range res.rows {
		n, err := toUint64(row[size])
		if err != nil {
			return nil, c.errorf(stmt, fmt.Errorf("File_size %q: %w", str(row[size]), err))
		}
		logs = append(logs, BinaryLog{File: str(row[name]), Size: n})
	}
	return logs, nil
}
