package scenario

import (
	"strconv"
	"strings"

	"github.com/meshcheck/meshcheck/loadgen"
)

// classifierForms lists the classifier specs loadgen understands.
const classifierForms = `json:<dotted.path> (json:os.hostname), regex:<expression with one capture group>, header:<name> or status`

// checkClassifier returns why spec is not a classifier loadgen can run, or
// "" when it is one.
func checkClassifier(spec string) string {
	if _, err := loadgen.ParseClassifier(spec); err != nil {
		// loadgen's message starts by quoting the spec, which the caller
		// quotes already.
		msg := err.Error()
		if rest, ok := strings.CutPrefix(msg, "classifier "+strconv.Quote(spec)+": "); ok {
			msg = rest
		}
		return msg
	}
	return ""
}
