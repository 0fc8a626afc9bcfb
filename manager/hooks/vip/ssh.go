package vip

import (
	"context"
	"time"

	"github.com/gomha/gomha/manager/sshexec"
)

// SSH is the [Remote] that logs in with sshexec (host keys verified,
// ssh_options honoured through each Host's Target).
type SSH struct {
	// ConnectTimeout bounds the connection and handshake when the Host's
	// Target and its ssh_options set none; 0 means 5 seconds, short because
	// the orig master is often dead when the hook runs.
	ConnectTimeout time.Duration
}

// Connect dials h.SSH.
func (r SSH) Connect(ctx context.Context, h Host) (Session, error) {
	t := h.SSH
	if t.ConnectTimeout == 0 && t.Options.ConnectTimeout == 0 {
		t.ConnectTimeout = r.ConnectTimeout
		if t.ConnectTimeout == 0 {
			t.ConnectTimeout = 5 * time.Second
		}
	}
	c, err := sshexec.Dial(ctx, t)
	if err != nil {
		return nil, err
	}
	return sshSession{c}, nil
}

type sshSession struct{ c *sshexec.Client }

func (s sshSession) Run(ctx context.Context, argv []string) (string, error) {
	res, err := s.c.Run(ctx, argv)
	return string(res.Stdout), err
}

func (s sshSession) Close() error { return s.c.Close() }
