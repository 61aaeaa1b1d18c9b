#!/usr/bin/env bash
# The JSON classifier on gjson next to the byte walker it replaced
# (docs/benchmarks/loadgen.md, "The JSON classifier on gjson"):
#
#   bash bench/loadgen/classify-compare.sh [BASE]
#
# BASE defaults to 640fc2d, the last commit with the walker. The script
# checks BASE out into a temporary git worktree, builds both trees' loadgen
# test binaries once, runs them in alternation (ROUNDS rounds, so that a busy
# machine slows both alike) and compares them with benchstat
# (golang.org/x/perf, fetched by go run from the module proxy). Knobs
# (environment): ROUNDS=10 BENCH='ClassifyJSON|RecordFold'. Needs go and git
# (a full clone).
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=${1:-640fc2d}
ROUNDS=${ROUNDS:-10}
BENCH=${BENCH:-ClassifyJSON|RecordFold}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

tmp="$(mktemp -d)"
cleanup() {
	git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/base" "$BASE" >/dev/null 2>&1 ||
	{ echo "classify-compare: cannot check out $BASE (a shallow clone lacks it: git fetch --unshallow)" >&2; exit 1; }

go test -c -o "$tmp/new.test" ./loadgen/
(cd "$tmp/base" && go test -c -o "$tmp/old.test" ./loadgen/)
for _ in $(seq "$ROUNDS"); do
	for side in old new; do
		(cd loadgen && "$tmp/$side.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1) |
			grep '^Benchmark' >>"$tmp/$side.txt"
	done
done
go run "$BENCHSTAT" "old=$tmp/old.txt" "new=$tmp/new.txt"
