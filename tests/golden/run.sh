#!/bin/sh
# run.sh - golden tests for the configuration: for every X.conf here,
# "TERND -n -p -c X.conf" must print exactly X.dump (byte for byte) and
# exit 0. It runs in this directory, so file:PATH values in the inputs
# are relative to it. Exits 1 if any case differs, 2 on bad usage.
#
# usage: tests/golden/run.sh path/to/ternd
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 TERND" >&2
	exit 2
fi
case $1 in
/*) ternd=$1 ;;
*) ternd=$PWD/$1 ;;
esac
if [ ! -x "$ternd" ]; then
	echo "$0: $ternd is not executable" >&2
	exit 2
fi
cd "$(dirname "$0")" || exit 2

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

n=0
bad=0
for conf in *.conf; do
	want=${conf%.conf}.dump
	n=$((n + 1))
	if [ ! -f "$want" ]; then
		echo "FAIL $conf: no $want"
		bad=$((bad + 1))
		continue
	fi
	if ! "$ternd" -n -p -c "$conf" >"$tmp/out" 2>"$tmp/err"; then
		echo "FAIL $conf: ternd failed:"
		sed 's/^/    /' "$tmp/err"
		bad=$((bad + 1))
	elif ! diff -u "$want" "$tmp/out" >"$tmp/diff"; then
		echo "FAIL $conf: output differs from $want (- want, + got):"
		cat "$tmp/diff"
		bad=$((bad + 1))
	else
		echo "ok   $conf"
	fi
done
echo "golden: $((n - bad)) of $n passed"
[ "$bad" -eq 0 ]
