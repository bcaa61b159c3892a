#!/bin/sh
# bench/run.sh - ternd against Postfix and OpenSMTPD on this machine
# (`make bench`; see bench/README.md).
#
# Installs what it needs from Debian (gcc, gnuplot-nox, postfix), fetches
# the opensmtpd package and unpacks it under bench/work without installing
# it (it conflicts with postfix, which the test suite needs), runs every
# workload against every server, writes bench/results/<date>.md and
# <date>-throughput.png and prints the tables. If postfix was not
# installed before, it is removed again at the end (and a mail server it
# displaced is reinstalled) unless BENCH_KEEP_PACKAGES=1.
# BENCH_QUICK=1 runs a fifth of the messages (for trying changes).
# Needs root: it installs packages and runs the peers as their users.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$ROOT/bench/work
PY=/usr/bin/python3
QUICK=""
[ "${BENCH_QUICK:-0}" = 1 ] && QUICK="--quick"

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: run as root (it installs Debian packages and" \
	    "starts Postfix and OpenSMTPD as their own users)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix without any system configuration: the benchmark brings its own.
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
	    grep -q "install ok installed"
}

# Installing a mail server must not start the system's copy of it: keep
# services from starting while we install, unless the machine already
# has a policy of its own.
POLICY=/usr/sbin/policy-rc.d
OWN_POLICY=0
cleanup() {
	[ "$OWN_POLICY" = 1 ] && rm -f "$POLICY"
	return 0
}
trap cleanup EXIT INT TERM
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# bench/run.sh: no service starts while it installs\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	OWN_POLICY=1
fi

UPDATED=0
apt_install() {
	if [ "$UPDATED" = 0 ]; then
		apt-get update -q >/dev/null
		UPDATED=1
	fi
	apt-get install -y -q --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 || {
		cat "$WORK/apt.log" >&2
		exit 1
	}
}

mkdir -p "$WORK/bin" "$ROOT/bench/results"
missing=""
for p in gcc libc6-dev gnuplot-nox python3 util-linux mount; do
	installed "$p" || missing="$missing $p"
done
# shellcheck disable=SC2086
[ -n "$missing" ] && apt_install $missing

# Postfix is installed as a package (the test suite needs it too).
# OpenSMTPD conflicts with it as a package, so it is not installed: its
# .deb is fetched with apt-get download and unpacked under bench/work.
MTAS_BEFORE=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null |
    awk '/install ok installed/ && /mail-transport-agent/ {print $1}' |
    tr '\n' ' ')
if ! installed postfix; then
	echo "bench: installing postfix (removes: ${MTAS_BEFORE:-nothing})" >&2
	apt_install postfix
fi
# what the unpacked smtpd and mail.maildir link against
missing=""
for p in libevent-2.1-7 libssl3 libdb5.3 libcrypt1 libpam0g zlib1g; do
	installed "$p" || missing="$missing $p"
done
# shellcheck disable=SC2086
[ -n "$missing" ] && apt_install $missing
OSD=$WORK/opensmtpd-pkg
if [ ! -x "$OSD/root/usr/sbin/smtpd" ]; then # rm -rf it to refresh
	[ "$UPDATED" = 1 ] || { apt-get update -q >/dev/null; UPDATED=1; }
	rm -rf "$OSD"
	mkdir -p "$OSD"
	(cd "$OSD" && apt-get download -q opensmtpd >/dev/null 2>&1)
	dpkg-deb -x "$OSD"/opensmtpd_*.deb "$OSD/root"
	dpkg-deb -f "$OSD"/opensmtpd_*.deb Version >"$OSD/version"
fi
# the accounts and the empty chroot directory its privilege separation
# needs (what the package's postinst would create)
for u in opensmtpd opensmtpq; do
	id "$u" >/dev/null 2>&1 ||
	    useradd --system --user-group --no-create-home \
	        --home-dir /var/lib/opensmtpd/empty --shell /usr/sbin/nologin "$u"
done
mkdir -p /var/lib/opensmtpd/empty

[ -x "$ROOT/build/ternd" ] || make -C "$ROOT" build
# a copy, so that the whole run uses one binary even if build/ changes
cp "$ROOT/build/ternd" "$WORK/bin/ternd"
export TERND="$WORK/bin/ternd"
cc -O2 -Wall -o "$WORK/bin/loadgen" bench/loadgen.c
cc -O2 -Wall -pthread -o "$WORK/bin/fsync_rate" bench/fsync_rate.c

T0=$(date +%s)
rm -f "$WORK"/raw-*.json
$PY bench/bench.py phase all $QUICK

if [ "${BENCH_KEEP_PACKAGES:-0}" != 1 ]; then
	case " $MTAS_BEFORE " in
	*" postfix "*) ;;
	*)
		echo "bench: removing postfix (not installed before)" >&2
		apt-get remove -y -q postfix >"$WORK/apt.log" 2>&1 || true
		for p in $MTAS_BEFORE; do
			installed "$p" || {
				echo "bench: reinstalling $p" >&2
				apt_install "$p"
			}
		done
		;;
	esac
fi

$PY bench/bench.py report
echo "bench: done in $(($(date +%s) - T0)) s" >&2
