#!/usr/bin/env bash
# Load generator benchmarks (docs/benchmarks/loadgen.md), one command:
#
#   bash bench/loadgen/run.sh          (or: make bench-loadgen)
#
# On loopback, against bench/loadgen/server (a small Go echo server):
#   1. saturation, side by side in each round: `meshcheck probe`, the vegeta
#      CLI (v12.12.0, the version go.mod pins) and wrk, each asked for more
#      than the machine can do; reports the throughput each achieved and the
#      CPU time each spent per request (the steadier number on a busy host);
#   2. pacing: `meshcheck probe` (and vegeta, for reference) at 1,000 and
#      5,000 requests/s: achieved rate against the rate asked;
#   3. memory: peak RSS (GNU time's %M) of `meshcheck probe` after 10,000
#      and after 1,000,000 requests, with the worker bound fixed.
# The probes expect 75/25 with a tolerance of 0.0001, which the server's
# fixed 3:1 rotation never settles, so every probe runs its whole budget.
#
# Knobs (environment): ROUNDS=9 DUR=8 SAT_RATE=50000 WORKERS=1024 CONNS=64
# PACE_ROUNDS=2 PACE_DUR=20 MEM_RATE=5000 MEM_WORKERS=128 SKIP_MEM=1.
# Needs go, jq, wrk (apt-get install -y wrk) and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-9}
PACE_ROUNDS=${PACE_ROUNDS:-2}
DUR=${DUR:-8}
SAT_RATE=${SAT_RATE:-50000}
WORKERS=${WORKERS:-1024}
CONNS=${CONNS:-64}
PACE_DUR=${PACE_DUR:-20}
MEM_RATE=${MEM_RATE:-5000}
MEM_WORKERS=${MEM_WORKERS:-128}
ADDR=${ADDR:-127.0.0.1:18181}
URL="http://$ADDR/echo"

for tool in go jq wrk /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (wrk: apt-get install -y wrk; GNU time: apt-get install -y time)" >&2; exit 4; }
done

W=$(mktemp -d /tmp/meshcheck-bench-loadgen.XXXXXX)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT

echo "# building into $W" >&2
go build -o "$W/meshcheck" ./cmd/meshcheck
go build -o "$W/benchserver" ./bench/loadgen/server
# The vegeta CLI, pinned by the tools/vegeta module (its `tool` line) at the
# version of vegeta's lib in go.mod; built from that module because the
# CLI's dependencies are not in ours (and some proxies refuse the version-list
# lookup of `go run ...@v12.12.0`).
lib=$(awk '$1 == "github.com/tsenart/vegeta/v12" {print $2; exit}' go.mod)
cli=$(awk '$1 == "github.com/tsenart/vegeta/v12" {print $2; exit}' tools/vegeta/go.mod)
if [[ "$lib" != "$cli" ]]; then
	echo "bench-loadgen: go.mod has vegeta $lib but tools/vegeta pins $cli: align them" >&2
	exit 1
fi
(cd tools/vegeta && GOWORK=off go build -o "$W/vegeta" github.com/tsenart/vegeta/v12)
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; $(go version | cut -d' ' -f3);" \
	"vegeta $(go version -m "$W/vegeta" | awk '$1 == "mod" {print $3}'); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"

"$W/benchserver" -addr "$ADDR" >"$W/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
	grep -q listening "$W/server.log" 2>/dev/null && break
	sleep 0.05
done
grep -q listening "$W/server.log" || { echo "run.sh: the bench server did not start" >&2; cat "$W/server.log" >&2; exit 4; }

echo '{"echo-v1": "v1", "echo-v2": "v2"}' >"$W/pods.json"
printf 'GET %s\nHost: echo.local\n' "$URL" >"$W/targets.txt"

# probe RATE DURATION MAX_REQUESTS [FLAGS...]: one meshcheck probe, its JSON
# in $W/probe.json, its CPU seconds (user + system) in $W/cpu.txt.
probe() {
	local code=0
	/usr/bin/time -f '%U %S' -o "$W/cpu.txt" "$W/meshcheck" probe --url "$URL" --host echo.local \
		--rate "$1" --duration "$2" --max-requests "$3" "${@:4}" --classify json:os.hostname --map "$W/pods.json" \
		--expect v1=75,v2=25 --tolerance 0.0001 -o json >"$W/probe.json" || code=$?
	if [ "$code" != 3 ]; then
		echo "run.sh: the probe exited $code, want 3 (inconclusive: budget spent)" >&2
		jq -c '.probes[0].result.verdict, .probes[0].stats.errors, .probes[0].stats.errorSamples' "$W/probe.json" >&2 || true
		exit 1
	fi
}

# cpu_per_request N: CPU microseconds per request from $W/cpu.txt.
# (GNU time puts "Command exited with non-zero status" first: read the last line.)
cpu_per_request() { tail -n1 "$W/cpu.txt" | awk -v n="$1" '{printf "%.1f", ($1 + $2) * 1e6 / n}'; }

# Each *_attack prints "send-rate throughput errors cpu-us-per-request";
# throughput is responses per second over the whole run.
vegeta_attack() {
	/usr/bin/time -f '%U %S' -o "$W/cpu.txt" "$W/vegeta" attack -rate="$1" -duration="$2s" -max-workers="$WORKERS" \
		-targets="$W/targets.txt" -output="$W/vegeta.bin"
	local n
	n=$("$W/vegeta" report -type=json "$W/vegeta.bin" | tee "$W/vegeta.json" | jq .requests)
	jq -r --arg cpu "$(cpu_per_request "$n")" \
		'"\(.rate) \(.requests / ((.duration + .wait) / 1e9)) \(.requests - (.status_codes["200"] // 0)) \($cpu)"' "$W/vegeta.json"
	rm -f "$W/vegeta.bin"
}

meshcheck_attack() {
	probe "$1" "$2s" 100000000 --max-workers "$WORKERS"
	local n
	n=$(jq '.probes[0].stats.requests' "$W/probe.json")
	jq -r --arg cpu "$(cpu_per_request "$n")" \
		'.probes[0].stats | "\(.rateAchieved) \(.requests / .durationSeconds) \(.errors) \($cpu)"' "$W/probe.json"
}

# wrk is closed-loop (no rate): its send rate is its throughput.
wrk_attack() {
	/usr/bin/time -f '%U %S' -o "$W/cpu.txt" wrk -t2 -c"$CONNS" -d"$1s" -H 'Host: echo.local' "$URL" >"$W/wrk.txt"
	local rps errs n
	rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.txt")
	n=$(awk '/requests in/ {print $1}' "$W/wrk.txt")
	errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$W/wrk.txt")
	echo "$rps $rps $errs $(cpu_per_request "$n")"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
median() { tr ' ' '\n' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo
echo "## 1. Saturation: each tool asked for $SAT_RATE req/s (wrk: -t2 -c$CONNS) for ${DUR}s, $ROUNDS rounds side by side"
echo
echo "| round | vegeta req/s | meshcheck req/s | wrk req/s | meshcheck / vegeta | CPU µs/req vegeta | meshcheck | wrk | meshcheck / vegeta CPU | errors v/m/w |"
echo "|---|---|---|---|---|---|---|---|---|---|"
vt=() mt=() wt=() rt=() vc=() mc=() wc=() rc=()
for round in $(seq "$ROUNDS"); do
	# Rotate the order so no tool always runs first.
	case $((round % 3)) in
	1) order="vegeta meshcheck wrk" ;;
	2) order="meshcheck wrk vegeta" ;;
	0) order="wrk vegeta meshcheck" ;;
	esac
	for tool in $order; do
		case $tool in
		vegeta) read -r _ v_tp v_err v_cpu < <(vegeta_attack "$SAT_RATE" "$DUR") ;;
		meshcheck) read -r _ m_tp m_err m_cpu < <(meshcheck_attack "$SAT_RATE" "$DUR") ;;
		wrk) read -r _ w_tp w_err w_cpu < <(wrk_attack "$DUR") ;;
		esac
	done
	r_tp=$(ratio "$m_tp" "$v_tp")
	r_cpu=$(ratio "$m_cpu" "$v_cpu")
	printf '| %d | %.0f | %.0f | %.0f | %s | %s | %s | %s | %s | %s/%s/%s |\n' "$round" "$v_tp" "$m_tp" "$w_tp" "$r_tp" \
		"$v_cpu" "$m_cpu" "$w_cpu" "$r_cpu" "$v_err" "$m_err" "$w_err"
	vt+=("$v_tp") mt+=("$m_tp") wt+=("$w_tp") rt+=("$r_tp") vc+=("$v_cpu") mc+=("$m_cpu") wc+=("$w_cpu") rc+=("$r_cpu")
done
printf '| median | %.0f | %.0f | %.0f | %s | %s | %s | %s | %s | |\n' \
	"$(echo "${vt[@]}" | median)" "$(echo "${mt[@]}" | median)" "$(echo "${wt[@]}" | median)" "$(echo "${rt[@]}" | median)" \
	"$(echo "${vc[@]}" | median)" "$(echo "${mc[@]}" | median)" "$(echo "${wc[@]}" | median)" "$(echo "${rc[@]}" | median)"

echo
echo "## 2. Pacing: ${PACE_DUR}s at each rate, $PACE_ROUNDS rounds side by side"
echo
echo "| round | asked req/s | meshcheck achieved | meshcheck error | vegeta achieved | vegeta error |"
echo "|---|---|---|---|---|---|"
for round in $(seq "$PACE_ROUNDS"); do
	for rate in 1000 5000; do
		if [ $((round % 2)) = 1 ]; then
			read -r m_rate _ _ _ < <(meshcheck_attack "$rate" "$PACE_DUR")
			read -r v_rate _ _ _ < <(vegeta_attack "$rate" "$PACE_DUR")
		else
			read -r v_rate _ _ _ < <(vegeta_attack "$rate" "$PACE_DUR")
			read -r m_rate _ _ _ < <(meshcheck_attack "$rate" "$PACE_DUR")
		fi
		printf '| %d | %d | %.2f | %+.3f%% | %.2f | %+.3f%% |\n' "$round" "$rate" "$m_rate" \
			"$(awk -v a="$m_rate" -v r="$rate" 'BEGIN {print (a - r) / r * 100}')" "$v_rate" \
			"$(awk -v a="$v_rate" -v r="$rate" 'BEGIN {print (a - r) / r * 100}')"
	done
done

if [ -n "${SKIP_MEM:-}" ]; then exit 0; fi
echo
echo "## 3. Memory: peak RSS of meshcheck probe at $MEM_RATE req/s, --max-workers $MEM_WORKERS"
echo
echo "| requests | peak RSS (MiB) | achieved req/s | wall time (s) |"
echo "|---|---|---|---|"
for n in 10000 1000000; do
	/usr/bin/time -f '%M' -o "$W/rss.txt" "$W/meshcheck" probe --url "$URL" --host echo.local --rate "$MEM_RATE" \
		--duration 0 --max-requests "$n" --max-workers "$MEM_WORKERS" --classify json:os.hostname --map "$W/pods.json" \
		--expect v1=75,v2=25 --tolerance 0.0001 -o json >"$W/mem.json" || true
	printf '| %s | %.1f | %.1f | %.1f |\n' "$n" "$(tail -n1 "$W/rss.txt" | awk '{print $1 / 1024}')" \
		"$(jq '.probes[0].stats.rateAchieved' "$W/mem.json")" "$(jq '.probes[0].stats.durationSeconds' "$W/mem.json")"
	got=$(jq '.probes[0].stats.requests' "$W/mem.json")
	[ "$got" = "$n" ] || { echo "run.sh: the memory probe sent $got requests, want $n" >&2; exit 1; }
done
