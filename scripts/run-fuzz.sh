#!/bin/sh
# run-fuzz.sh - run every libFuzzer target of a fuzz build for a while.
#
#   scripts/run-fuzz.sh BUILD_DIR SECONDS
#
# BUILD_DIR holds fuzz_proto, fuzz_addr, fuzz_data and fuzz_conf (meson
# -Dfuzz=true; see fuzz/README.md). For each target it first replays
# every file in fuzz/regressions/<target>/, then fuzzes for SECONDS
# starting from a scratch copy of fuzz/corpus/<target>/ (the repository's
# corpus never grows), and prints one line:
#
#   fuzz_proto: 1234567 execs in 60 s, cov 1450, ft 8012, crashes 0
#
# SECONDS 0 only replays the regressions and runs the seeds once.
# A crash, leak, timeout, out-of-memory or UBSan report fails the target:
# its log tail is printed and the input is kept in
# BUILD_DIR/fuzz-artifacts/<target>/. The exit status is 1 if any target
# failed, 2 on a usage or setup error.
#
# Environment: FUZZ_TARGETS (default "proto addr data conf"), FUZZ_JOBS
# (targets run at once, default 1), FUZZ_KEEP=1 keeps the scratch
# directories (the grown corpora) and prints where they are.
set -u

usage() {
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
}

[ $# -eq 2 ] || usage
build=$1
seconds=$2
case $seconds in
'' | *[!0-9]*) usage ;;
esac
[ -d "$build" ] || { echo "run-fuzz: no directory $build" >&2; exit 2; }
build=$(cd "$build" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
targets=${FUZZ_TARGETS:-proto addr data conf}
jobs=${FUZZ_JOBS:-1}
case $jobs in
'' | *[!0-9]* | 0) jobs=1 ;;
esac

# UBSan only warns by default; a finding must stop the fuzzer
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

scratch_root=$(mktemp -d "${TMPDIR:-/tmp}/tern-fuzz.XXXXXX") || exit 2
if [ "${FUZZ_KEEP:-0}" != 1 ]; then
	trap 'rm -rf "$scratch_root"' EXIT
	trap 'exit 130' INT TERM
fi

# longest input per target: addresses are short, the rest get 64k
max_len() {
	case $1 in
	addr) echo 4096 ;;
	*) echo 65536 ;;
	esac
}

# tokens that help the mutator find the grammar
write_dict() {
	case $1 in
	proto)
		for w in "EHLO " "HELO " "MAIL FROM:<" "RCPT TO:<" "DATA" \
		    "BDAT " " LAST" "RSET" "NOOP" "QUIT" "VRFY " "EXPN " \
		    "HELP " "STARTTLS" "AUTH PLAIN " "AUTH LOGIN" " SIZE=" \
		    " BODY=8BITMIME" " BODY=7BIT" " SMTPUTF8" "\\x0d\\x0a" \
		    "\\x0d\\x0a.\\x0d\\x0a" "\\x0a.\\x0a" "@example.test>" \
		    "@other.test>" "@remote.example>" "alice" "postmaster" \
		    "team" "Received:" "AGFsaWNlAHNlY3JldA==" "YWxpY2U=" \
		    "c2VjcmV0" "*"; do
			printf '"%s"\n' "$w"
		done ;;
	addr)
		for w in "<" ">" "@" "\\x22" "[IPv6:" "::" "]" ":" "," \
		    "postmaster" "SIZE=" "BODY=" "\\xc3\\xa9" \
		    "\\xf0\\x9f\\x98\\x80"; do
			printf '"%s"\n' "$w"
		done ;;
	conf)
		for w in hostname listen domains mailboxes aliases \
		    maildir_root spool_dir max_message_size max_recipients \
		    max_connections max_connections_per_ip command_timeout \
		    data_timeout max_errors vrfy expn min_free_space \
		    commit_workers bare_newline shutdown_timeout max_hops \
		    pregreet_delay unsafe_no_fsync relay_networks \
		    allow_open_relay relay_port relay_tls smarthost routes \
		    dns_resolver tls_cert tls_key users auth_over_plaintext \
		    sender_login_match " = " "file:inc" "\\x0a%%\\x0a" \
		    "127.0.0.1:25" "[::1]:25" "/submission" "yes" "no" "64k" \
		    "25M" "5m" "@example.test"; do
			printf '"%s"\n' "$w"
		done ;;
	esac
}

# fuzz one target; writes its summary line to $dir/summary, status to
# $dir/status
run_target() {
	t=$1
	bin=$build/fuzz_$t
	dir=$scratch_root/$t
	mkdir -p "$dir/corpus" "$dir/artifacts"
	if [ ! -x "$bin" ]; then
		echo "fuzz_$t: missing $bin (configure with -Dfuzz=true)" \
		    >"$dir/summary"
		echo 1 >"$dir/status"
		return
	fi
	flags="-rss_limit_mb=2048 -timeout=30 -max_len=$(max_len "$t")"

	# known crashers stay fixed
	regs=$top/fuzz/regressions/$t
	if [ -d "$regs" ] && [ -n "$(ls -A "$regs" 2>/dev/null)" ]; then
		# shellcheck disable=SC2086
		if ! "$bin" $flags "$regs"/* >"$dir/replay.log" 2>&1; then
			{
				echo "fuzz_$t: a regression input fails again:"
				tail -n 60 "$dir/replay.log"
			} >"$dir/summary"
			echo 1 >"$dir/status"
			return
		fi
	fi

	if [ -d "$top/fuzz/corpus/$t" ]; then
		cp "$top/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null
	fi
	write_dict "$t" >"$dir/dict"
	[ -s "$dir/dict" ] && flags="$flags -dict=$dir/dict"
	# SECONDS 0: run the seeds once (a smoke test), no fuzzing
	if [ "$seconds" -eq 0 ]; then
		flags="$flags -runs=0"
	else
		flags="$flags -max_total_time=$seconds"
	fi
	start=$(date +%s)
	# shellcheck disable=SC2086
	(cd "$dir" && "$bin" $flags \
	    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
	    corpus >"$dir/fuzz.log" 2>&1)
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$dir/fuzz.log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.* cov: ' "$dir/fuzz.log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ -z "$execs" ]; then
		execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	fi
	crashes=$(find "$dir/artifacts" -type f ! -name 'slow-unit-*' |
	    wc -l | tr -d ' ')
	{
		echo "fuzz_$t: ${execs:-0} execs in $((end - start)) s," \
		    "cov ${cov:-?}, ft ${ft:-?}, crashes $crashes"
		if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
			echo "fuzz_$t: libFuzzer exit status $rc; log tail:"
			tail -n 60 "$dir/fuzz.log"
			keep=$build/fuzz-artifacts/$t
			mkdir -p "$keep"
			cp "$dir/artifacts"/* "$keep/" 2>/dev/null
			echo "fuzz_$t: inputs kept in $keep; reproduce with" \
			    "$bin FILE"
		fi
	} >"$dir/summary"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		echo 1 >"$dir/status"
	else
		echo 0 >"$dir/status"
	fi
}

# FUZZ_JOBS targets at a time
# shellcheck disable=SC2086 # a list, split on purpose
set -- $targets
while [ $# -gt 0 ]; do
	n=0
	while [ $# -gt 0 ] && [ $n -lt "$jobs" ]; do
		run_target "$1" &
		shift
		n=$((n + 1))
	done
	wait
done

failed=0
for t in $targets; do
	cat "$scratch_root/$t/summary"
	[ "$(cat "$scratch_root/$t/status" 2>/dev/null)" = 0 ] || failed=1
done
[ "${FUZZ_KEEP:-0}" = 1 ] && echo "run-fuzz: scratch kept in $scratch_root"
exit $failed
