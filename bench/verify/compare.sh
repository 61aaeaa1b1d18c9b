#!/usr/bin/env bash
# Today's verdict engine next to an earlier commit's, same cells and seeds
# (docs/benchmarks/verify.md, "Before and after"):
#
#   bash bench/verify/compare.sh [BASE]      (or: make bench-verify)
#
# BASE defaults to d44b0dc, the last commit before the intersection-union
# engine. The script checks BASE out into a temporary git worktree, copies
# bench/verify/compare/main.go into it (the program uses only the public API
# both engines share), runs it in both trees and prints one Markdown table.
# Knobs (environment): RUNS=10000 SEED=1. Needs go and git (a full clone).
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=${1:-d44b0dc}
RUNS=${RUNS:-10000}
SEED=${SEED:-1}

tmp="$(mktemp -d)"
cleanup() {
	git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
git worktree add --detach "$tmp/base" "$BASE" >/dev/null 2>&1 ||
	{ echo "compare: cannot check out $BASE (a shallow clone lacks it: git fetch --unshallow)" >&2; exit 1; }
mkdir -p "$tmp/base/bench/verify/compare"
cp bench/verify/compare/main.go "$tmp/base/bench/verify/compare/main.go"

go run ./bench/verify/compare -runs "$RUNS" -seed "$SEED" >"$tmp/new.tsv"
(cd "$tmp/base" && go run ./bench/verify/compare -runs "$RUNS" -seed "$SEED") >"$tmp/old.tsv"

echo "Same cells, seeds and run counts ($RUNS per cell, seed $SEED; alpha 0.001, ±5 points, error budget 1%)."
echo "Columns: median and p95 requests to the verdict; runs with the wrong verdict (a correct config not"
echo "PASSing, a wrong one not FAILing)."
echo
echo "| cell | verdict | $BASE median | now median | ratio | $BASE p95 | now p95 | $BASE wrong | now wrong |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
paste "$tmp/old.tsv" "$tmp/new.tsv" | tail -n +2 | awk -F'\t' '{
	wrongOld = ($2 == "PASS") ? $6 + $7 : $5 + $7
	wrongNew = ($2 == "PASS") ? $13 + $14 : $12 + $14
	printf "| %s | %s | %d | %d | %.3f | %d | %d | %d | %d |\n", $1, $2, $3, $10, $10 / $3, $4, $11, wrongOld, wrongNew
}'

# The engine's cost per observation, both engines measured in alternation
# (ROUNDS rounds) so that a busy machine slows both alike; medians and ratio.
ROUNDS=${ROUNDS:-5}
for _ in $(seq "$ROUNDS"); do
	(cd "$tmp/base" && go test -run '^$' -bench BenchmarkObserve -benchtime 1000000x ./verify/) | awk '/^BenchmarkObserve/ {print "old", $1, $3}' >>"$tmp/observe.txt"
	go test -run '^$' -bench BenchmarkObserve -benchtime 1000000x ./verify/ | awk '/^BenchmarkObserve/ {print "new", $1, $3}' >>"$tmp/observe.txt"
done
echo
echo "Cost per observation (BenchmarkObserve, shares on the band edge so every observation is judged;"
echo "median of $ROUNDS alternating rounds of 1,000,000 observations):"
echo
echo "| case | $BASE ns | now ns | ratio |"
echo "|---|---:|---:|---:|"
sort -k2,2 -k1,1 -k3,3n "$tmp/observe.txt" | awk -v rounds="$ROUNDS" '
	{ v[$2, $1, ++n[$2, $1]] = $3; cases[$2] = 1 }
	END {
		mid = int((rounds + 1) / 2)
		for (c in cases) {
			o = v[c, "old", mid]; w = v[c, "new", mid]
			name = c; sub(/^BenchmarkObserve\//, "", name); sub(/-[0-9]+$/, "", name)
			printf "| %s | %.0f | %.0f | %.2f |\n", name, o, w, w / o
		}
	}' | sort
