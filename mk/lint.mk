# Workflow lint: actionlint, pinned, over every GitHub Actions workflow. It
# checks the workflow syntax, expressions, action inputs and runner labels,
# and runs shellcheck on the run: scripts when shellcheck is installed (it is
# not needed).
.PHONY: lint-workflows

lint-workflows:
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
