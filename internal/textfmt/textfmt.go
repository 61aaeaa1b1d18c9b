// Package textfmt formats numbers for people, the same way in every package
// that writes messages or reports.
package textfmt

import (
	"strconv"
	"strings"
)

// Thousands formats n with comma separators: 1830 -> "1,830".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
