#!/usr/bin/env bash
# install-deps.sh installs the Debian packages the gomha integration lab needs:
# MariaDB server and client, OpenSSH server and client, keepalived, iproute2
# and arping. It is idempotent: when every binary the lab runs is already
# present it changes nothing and exits 0.
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

# Binaries the lab runs, and where Debian installs them.
bins=(mariadbd mariadb mariadb-binlog mariadb-install-db sshd ssh ssh-keygen keepalived ip arping)
pkgs=(mariadb-server mariadb-client openssh-server openssh-client keepalived iproute2 iputils-arping)

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for b in "${bins[@]}"; do
	command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
echo "install-deps: missing ${missing[*]}; installing ${pkgs[*]}" >&2

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: must run as root (apt-get install)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: apt-get not found; install ${pkgs[*]} (or your distribution's equivalents) by hand" >&2
	exit 1
fi

# Which of the service-carrying packages are new, so only those get disabled.
new_units=()
dpkg -s mariadb-server >/dev/null 2>&1 || new_units+=(mariadb)
dpkg -s keepalived >/dev/null 2>&1 || new_units+=(keepalived)

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

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}"

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
