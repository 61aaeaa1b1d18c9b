package openfaas

import (
	"testing"

	"github.com/meshcheck/meshcheck/internal/charttest"
)

// testChartFiles is the test chart shaped like the OpenFaaS chart.
var testChartFiles = charttest.Files

func buildArchive(t testing.TB, files map[string]string) []byte { return charttest.Build(t, files) }

// testPin returns the test chart's archive and its pin.
func testPin(t testing.TB, repo string) ([]byte, Pin) {
	t.Helper()
	data, digest := charttest.Archive(t)
	return data, Pin{Name: "openfaas", Repository: repo, Version: charttest.Version, Digest: digest}
}

func sha(data []byte) string { return charttest.SHA256(data) }
