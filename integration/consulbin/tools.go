//go:build tools

// Package consulbin records the Consul version the lab builds.
package consulbin

import _ "github.com/hashicorp/consul"
