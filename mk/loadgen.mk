# Load generator benchmarks (docs/benchmarks/loadgen.md): saturation of
# `meshcheck probe` vs the vegeta CLI and wrk side by side, pacing at 1,000
# and 5,000 req/s, and peak RSS after 10,000 vs 1,000,000 requests. Takes
# about 10 minutes; needs wrk (apt-get install -y wrk), jq and GNU time.
.PHONY: bench-loadgen

bench-loadgen:
	bash bench/loadgen/run.sh
