#!/usr/bin/env bash
# Verification engine benchmark (docs/benchmarks/verify.md), one command:
#
#   bash bench/verify/run.sh          (or: make bench-verify)
#
# 1. The comparison table: requests-to-verdict (median, p95) and wrong-verdict
#    rates of meshcheck's sequential verdict and of the fixed-sample designs
#    of Istio's and the Gateway API's split tests, all simulated by
#    verify/sim against the same random traffic (correct 75/25, and 65/35
#    judged as 75/25). Deterministic for a given RUNS and SEED.
# 2. Before and after: today's engine next to the last commit before the
#    intersection-union engine, same cells and seeds (bench/verify/compare.sh;
#    needs a full clone's history).
# 3. The engine's cost per observation (BenchmarkObserve) and the simulator's
#    per-design metrics (BenchmarkRequestsToVerdict, 2,000 probes per cell).
#
# Knobs (environment): RUNS=10000 SEED=1 BENCHTIME=2000000x. Needs only go.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-10000}
SEED=${SEED:-1}
BENCHTIME=${BENCHTIME:-2000000x}

echo "## Requests to verdict and error rates (simulated)"
echo
go run ./bench/verify -runs "$RUNS" -seed "$SEED"
echo
echo "## Before and after (same cells and seeds)"
echo
RUNS="$RUNS" SEED="$SEED" bash bench/verify/compare.sh
echo
echo "## Engine cost per observation"
echo
go test -run '^$' -bench 'BenchmarkObserve' -benchmem -benchtime "$BENCHTIME" -count 3 ./verify/
echo
echo "## Simulator metrics (go test -bench, 2,000 probes per cell)"
echo
go test -run '^$' -bench 'BenchmarkRequestsToVerdict' -benchtime 1x ./verify/sim/
