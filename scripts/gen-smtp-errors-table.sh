#!/bin/sh
# gen-smtp-errors-table - regenerate the tables in
# docs/understanding-smtp-errors.md and README.md from the knowledge base
# (src/explain/kb.c), between the BEGIN/END GENERATED TABLE markers.
#
# usage: scripts/gen-smtp-errors-table.sh [path/to/tern]   (default build/tern)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tern=${1:-${TERN_BIN:-$root/build/tern}}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.table"' EXIT
"$tern" explain --table markdown > "$tmp.table"
for doc in "$root/docs/understanding-smtp-errors.md" "$root/README.md"; do
	awk -v table="$tmp.table" '
		/^<!-- BEGIN GENERATED TABLE/ { print; while ((getline l < table) > 0) print l; close(table); skip = 1; next }
		/^<!-- END GENERATED TABLE -->/ { skip = 0 }
		!skip { print }
	' "$doc" > "$tmp"
	cat "$tmp" > "$doc"
done
