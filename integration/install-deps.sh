#!/usr/bin/env bash
# install-deps.sh installs the Debian packages the gomha integration lab needs:
# MariaDB server and client, OpenSSH server and client, keepalived and
# iproute2, and an arping when the machine has no arping package. It is
# idempotent: when every binary the lab runs is present and an arping package
# is installed it changes nothing and exits 0.
#
# arping is optional. The VIP hook (mha hook vip) sends its gratuitous ARP
# with `mha-node arp` and runs arping only when mha-node is not on the new
# master; samples/master_ip_failover runs arping. Either Debian package
# serves: iputils-arping, or arping (Thomas Habets'). The two conflict, so
# iputils-arping is installed only when neither package is, whatever arping
# binary happens to be on the PATH, and nothing is ever removed
# (apt-get --no-remove): a machine with Habets' arping keeps it. When
# iputils-arping cannot be installed (not root, no apt-get, apt fails) the
# script says so and goes on.
#
# The lab starts its own mariadbd, sshd and keepalived inside network
# namespaces, so the packages' own services must not start. During the install
# a temporary policy-rc.d (invoke-rc.d and deb-systemd-invoke honour it) denies
# every service start unless one exists already; afterwards, on a machine
# booted with systemd, the MariaDB and keepalived units this run installed are
# disabled. The ssh unit is never touched: disabling a machine's sshd could
# lock its owner out.
#
# Usage: sudo bash integration/install-deps.sh
set -euo pipefail

# Binaries the lab runs, and the Debian packages that provide them.
bins=(mariadbd mariadb mariadb-binlog mariadb-install-db sshd ssh ssh-keygen keepalived ip)
pkgs=(mariadb-server mariadb-client openssh-server openssh-client keepalived iproute2)

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

# installed PKG: whether dpkg has PKG installed (not merely its config files
# left behind, which dpkg -s also reports).
installed() {
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for b in "${bins[@]}"; do
	command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done

# iputils-arping when no arping package is installed (only dpkg can tell).
want_arping=0
if command -v dpkg-query >/dev/null 2>&1 && ! installed iputils-arping && ! installed arping; then
	want_arping=1
fi

if [ "${#missing[@]}" -eq 0 ] && [ "$want_arping" -eq 0 ]; then
	exit 0
fi

# optional_skipped REASON: without required packages missing, the optional
# arping is not worth failing over.
optional_skipped() {
	echo "install-deps: no arping package installed and $1; not installing iputils-arping (the VIP hook uses mha-node arp and needs no arping)" >&2
	exit 0
}

if [ "${#missing[@]}" -gt 0 ]; then
	echo "install-deps: missing ${missing[*]}; installing ${pkgs[*]}" >&2
fi
if [ "$(id -u)" -ne 0 ]; then
	[ "${#missing[@]}" -gt 0 ] || optional_skipped "not running as root"
	echo "install-deps: must run as root (apt-get install)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	[ "${#missing[@]}" -gt 0 ] || optional_skipped "apt-get not found"
	echo "install-deps: apt-get not found; install ${pkgs[*]} (or your distribution's equivalents) by hand" >&2
	exit 1
fi

# Which of the service-carrying packages are new, so only those get disabled.
new_units=()
installed mariadb-server || new_units+=(mariadb)
installed keepalived || new_units+=(keepalived)

policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# temporary, from gomha integration/install-deps.sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	own_policy=1
fi
cleanup() {
	if [ "$own_policy" -eq 1 ]; then
		rm -f "$policy"
	fi
}
trap cleanup EXIT

if ! apt-get update; then
	[ "${#missing[@]}" -gt 0 ] || optional_skipped "apt-get update failed"
	exit 1
fi
if [ "${#missing[@]}" -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove "${pkgs[@]}"
fi
if [ "$want_arping" -eq 1 ]; then
	echo "install-deps: no arping package installed; installing iputils-arping" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-remove iputils-arping ||
		echo "install-deps: could not install iputils-arping; going on without it (the VIP hook uses mha-node arp)" >&2
fi

if [ "${#new_units[@]}" -gt 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable "${new_units[@]}" >/dev/null 2>&1 || true
fi

still=()
for b in "${bins[@]}"; do
	command -v "$b" >/dev/null 2>&1 || still+=("$b")
done
if [ "${#still[@]}" -gt 0 ]; then
	echo "install-deps: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "install-deps: done" >&2
