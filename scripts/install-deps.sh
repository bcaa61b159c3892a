#!/bin/sh
# install-deps.sh - install the Debian packages tern needs, if missing.
#
#   scripts/install-deps.sh [build|test|all]   (default: all)
#
# Runs apt-get only when a package is missing, so repeated `make` calls
# cost nothing. Needs root (or sudo) the first time.
set -eu

build_pkgs="gcc clang meson ninja-build pkg-config libevent-dev libssl-dev
libcmocka-dev libclang-rt-14-dev libc-ares-dev libcrypt-dev"
test_pkgs="python3 python3-pytest python3-aiosmtpd swaks msmtp openssl dnsmasq-base
iproute2 postfix"

case "${1:-all}" in
build) want="$build_pkgs" ;;
test) want="$test_pkgs" ;;
*) want="$build_pkgs $test_pkgs" ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# the relay tests run private Postfix instances: the package must not set
# up and start a system mail server
case "$missing" in
*" postfix"*) echo "postfix postfix/main_mailer_type select No configuration" |
	$SUDO debconf-set-selections ;;
esac
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
