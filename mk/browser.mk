# The HTML report in a real browser: report/html_browser_test.go (build tag
# `browser`) loads a rendered run in Debian's headless chromium and checks
# that it logs nothing to the console, that its DOM holds the verdicts and
# charts, and that its screenshot is not blank. Without chromium the test
# skips, unless MESHCHECK_REQUIRE_BROWSER is set (.ci/run sets it after
# installing chromium), when it fails.
.PHONY: test-browser

test-browser:
	$(GO) test -tags browser -count=1 ./report/...
