// Package docs holds meshcheck's documentation. It embeds the JSON Schema of
// the report (report.schema.json), so that package report validates saved
// reports against the very file readers see.
package docs

import _ "embed"

// ReportSchema is report.schema.json: the JSON Schema of meshcheck's
// report, version meshcheck.dev/report/v1.
//
//go:embed report.schema.json
var ReportSchema []byte
