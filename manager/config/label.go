package config

import (
	"net"
	"strconv"
)

// HostPort renders a host (name, IPv4 or IPv6 address) and a port as one
// address, IPv6-safe: "db1:3306", "192.0.2.1:3306", "[2001:db8::1]:3306".
// It is net.JoinHostPort with an int port, for every host:port the manager
// prints or dials.
func HostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// Addr returns the server's MySQL address, ip:port (see HostPort).
func (s Server) Addr() string { return HostPort(s.IP, s.Port) }

// Label names the server in logs, errors, reports and journals as MHA
// does, "hostname(ip:port)", with the address IPv6-safe:
// "db1(192.0.2.1:3306)", "db1([2001:db8::1]:3306)".
func (s Server) Label() string { return s.Hostname + "(" + s.Addr() + ")" }
