# Verification engine benchmark (docs/benchmarks/verify.md): simulated
# requests-to-verdict and error rates of meshcheck's sequential verdict next to
# Istio's and the Gateway API's fixed-sample designs, plus the engine's cost
# per observation. About a minute on two cores; needs only go.
.PHONY: bench-verify

bench-verify:
	bash bench/verify/run.sh
