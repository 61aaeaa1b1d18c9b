package report

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/meshcheck/meshcheck/verify"
)

// The geometry of a chart, in SVG user units: the whole picture, and the
// margins around the plot that hold the ticks and the axis labels.
const (
	chartWidth  = 920
	chartHeight = 300
	plotLeft    = 64
	plotRight   = 20
	plotTop     = 20
	plotBottom  = 52
)

// chartColours is the number of series colours the page's style sheet
// defines (classes s0 to s5); further series reuse them in turn.
const chartColours = 6

// chart is one picture of a probe: the shares of some of its lines against
// the requests judged, each with its confidence band and tolerance band.
type chart struct {
	// label names the chart for screen readers.
	label string
	// yLabel names the vertical axis; yMin and yMax are its bottom and
	// top (shares): what lies outside is clipped.
	yLabel     string
	yMin, yMax float64
	// stop is what the marker at the last look says, e.g. "PASS after
	// 2,003 requests".
	stop   string
	series []chartSeries
	// legend names the series under the chart; caption explains it.
	legend  []htmlLegend
	caption string
}

// htmlLegend is one series in a chart's legend: its colour class, name,
// expected share and final share with its interval.
type htmlLegend struct {
	Colour             int
	Name               string
	Expected, Observed string
}

// chartSeries is one line of a chart.
type chartSeries struct {
	name   string
	colour int
	points []verify.Point
	// interval: the line is judged by its confidence sequence, whose
	// interval is drawn as a band around the share.
	interval bool
	// band: the tolerance band [lo, hi] is drawn; dashed: so is the
	// expected share inside it.
	band   bool
	dashed bool
	lo, hi float64
	exp    float64
}

// drawable reports whether the chart has a series of two looks or more:
// one look is no history.
func (c chart) drawable() bool {
	for _, s := range c.series {
		if len(s.points) >= 2 {
			return true
		}
	}
	return false
}

// svg renders the chart as inline SVG: grid and ticks, the tolerance bands,
// the confidence bands, the tolerance bands' edges (so that they show
// through), the shares, the axes and the stop marker, in that order (later
// ones on top). Every text is escaped; the style sheet of the
// page colours the classes.
func (c chart) svg() template.HTML {
	var maxReq int64 = 1
	for _, s := range c.series {
		if n := len(s.points); n > 0 {
			maxReq = max(maxReq, s.points[n-1].Requests)
		}
	}
	plotW, plotH := float64(chartWidth-plotLeft-plotRight), float64(chartHeight-plotTop-plotBottom)
	x := func(req int64) float64 { return plotLeft + float64(req)/float64(maxReq)*plotW }
	y := func(v float64) float64 {
		return plotTop + (1-(min(max(v, c.yMin), c.yMax)-c.yMin)/(c.yMax-c.yMin))*plotH
	}
	bottom, right := float64(plotTop)+plotH, float64(plotLeft)+plotW

	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartWidth, chartHeight, esc(c.label))
	fmt.Fprintf(&b, "\n<title>%s</title>\n", esc(c.label))

	yStep := niceStep(c.yMax-c.yMin, 4)
	for i := 0; c.yMin+float64(i)*yStep <= c.yMax+1e-9; i++ {
		v := c.yMin + float64(i)*yStep
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%s" x2="%s" y2="%s"/>`, plotLeft, num(y(v)), num(right), num(y(v)))
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%s" text-anchor="end">%s</text>`+"\n", plotLeft-8, num(y(v)+4), tickPercent(v))
	}
	xStep := int64(math.Max(1, niceStep(float64(maxReq), 5)))
	for t := int64(0); t <= maxReq; t += xStep {
		fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%d" x2="%s" y2="%s"/>`, num(x(t)), plotTop, num(x(t)), num(bottom))
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(x(t)), num(bottom+18), verify.Thousands(t))
	}

	for _, s := range c.series {
		if !s.band {
			continue
		}
		fmt.Fprintf(&b, `<rect class="tol s%d" x="%d" y="%s" width="%s" height="%s"/>`+"\n", s.colour, plotLeft, num(y(s.hi)), num(plotW), num(y(s.lo)-y(s.hi)))
		if s.dashed {
			fmt.Fprintf(&b, `<line class="exp s%d" x1="%d" y1="%s" x2="%s" y2="%s"/>`+"\n", s.colour, plotLeft, num(y(s.exp)), num(right), num(y(s.exp)))
		}
	}
	for _, s := range c.series {
		if !s.interval || len(s.points) < 2 {
			continue
		}
		var pts []string
		for _, p := range s.points {
			pts = append(pts, num(x(p.Requests))+","+num(y(p.Upper)))
		}
		for i := len(s.points) - 1; i >= 0; i-- {
			pts = append(pts, num(x(s.points[i].Requests))+","+num(y(s.points[i].Lower)))
		}
		fmt.Fprintf(&b, `<polygon class="ci s%d" points="%s"/>`+"\n", s.colour, strings.Join(pts, " "))
	}
	for _, s := range c.series {
		if !s.band {
			continue
		}
		for _, v := range []float64{s.lo, s.hi} {
			fmt.Fprintf(&b, `<line class="edge s%d" x1="%d" y1="%s" x2="%s" y2="%s"/>`+"\n", s.colour, plotLeft, num(y(v)), num(right), num(y(v)))
		}
	}
	for _, s := range c.series {
		if len(s.points) < 2 {
			continue
		}
		var pts []string
		for _, p := range s.points {
			pts = append(pts, num(x(p.Requests))+","+num(y(p.Share)))
		}
		fmt.Fprintf(&b, `<polyline class="share s%d" points="%s"/>`+"\n", s.colour, strings.Join(pts, " "))
	}

	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%s" x2="%s" y2="%s"/>`, plotLeft, num(bottom), num(right), num(bottom))
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%s"/>`+"\n", plotLeft, plotTop, plotLeft, num(bottom))
	fmt.Fprintf(&b, `<line class="stop" x1="%s" y1="%d" x2="%s" y2="%s"/>`, num(right), plotTop, num(right), num(bottom))
	fmt.Fprintf(&b, `<text class="stoptext" x="%s" y="%d" text-anchor="end">%s</text>`+"\n", num(right-6), plotTop-6, esc(c.stop))
	fmt.Fprintf(&b, `<text class="label" x="%s" y="%d" text-anchor="middle">requests judged</text>`+"\n", num(plotLeft+plotW/2), chartHeight-8)
	fmt.Fprintf(&b, `<text class="label" x="%d" y="%s" text-anchor="middle" transform="rotate(-90 %d %s)">%s</text>`+"\n",
		16, num(plotTop+plotH/2), 16, num(plotTop+plotH/2), esc(c.yLabel))
	b.WriteString("</svg>")
	// Safe: every text above went through HTMLEscapeString, every
	// attribute is a number or a fixed word.
	return template.HTML(b.String())
}

// num writes a coordinate with one decimal.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceStep returns a step of 1, 2, 2.5 or 5 times a power of ten that
// cuts span into about n parts.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*mag*(1+1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// niceCeil rounds a share up to a multiple of the step that cuts it into
// about four parts, at most 1.
func niceCeil(v float64) float64 {
	step := niceStep(v, 4)
	return min(1, step*math.Ceil(v/step*(1-1e-9)))
}

// niceFloor rounds a share down to a multiple of the step that cuts the
// span from it to top into about four parts, at least 0.
func niceFloor(v, top float64) float64 {
	step := niceStep(top-v, 4)
	return max(0, step*math.Floor(v/step*(1+1e-9)))
}

// tickPercent writes a tick's share as a percentage with the decimals it
// needs: "25%", "2.5%", "0.5%".
func tickPercent(v float64) string {
	return strconv.FormatFloat(math.Round(v*100*1e6)/1e6, 'f', -1, 64) + "%"
}

// probeCharts returns a probe's charts: the shares of its versions (or of
// its status) and, when its errors line is judged against a budget and
// had errors or is not PASS, the errors.
func probeCharts(p Probe) []chart {
	r := p.Result
	stop := r.Verdict.String() + " after " + plural(r.Requests, "request")
	alpha := strconv.FormatFloat(r.Expectation.Alpha, 'g', -1, 64)
	shares := chart{label: "share of each version against requests judged", yLabel: "share of classified responses", yMax: 1, stop: stop,
		caption: "Each line is a version's observed share as requests were judged; the darker band around it is its confidence interval " +
			"(alpha " + alpha + "), the light band its tolerance band around the expected share (dashed). " +
			"A line PASSes once its interval lies inside its tolerance band, and FAILs once it lies outside."}
	var errs *chart
	for _, l := range r.Lines {
		s := chartSeries{name: l.Name, colour: len(shares.series) % chartColours, points: l.History, interval: !exact(l)}
		legend := htmlLegend{Colour: s.colour, Name: l.Name, Expected: expected(l, r.Expectation), Observed: share(l)}
		if !exact(l) && l.Of > 0 {
			legend.Observed += " " + interval(l)
		}
		switch l.Kind {
		case verify.KindVersion:
			s.band, s.dashed, s.lo, s.hi, s.exp = l.Expected > 0, true, l.BandLow, l.BandHigh, l.Expected
		case verify.KindStatus:
			shares.label, shares.yLabel = l.Name+" share against requests judged", "share of responses with "+l.Name
			shares.caption = "The line is the share of responses with the expected status as requests were judged; the darker band is its " +
				"confidence interval (alpha " + alpha + "), the light band the share it must keep. It PASSes once the interval lies inside the band."
			s.band, s.lo, s.hi = true, l.BandLow, l.BandHigh
			// Zoomed on the band: from twice its distance to 100% below
			// it, or lower when the share went lower.
			bottom := l.BandLow - 2*(1-l.BandLow)
			for _, pt := range l.History {
				bottom = min(bottom, pt.Share)
			}
			shares.yMin = niceFloor(bottom, 1)
		case verify.KindErrors:
			// Drawn when it says something: errors happened, or too few
			// requests to show the budget kept.
			if exact(l) || (l.Count == 0 && l.State == verify.Pass) {
				continue
			}
			top := 2 * l.BandHigh
			for _, pt := range l.History {
				top = max(top, pt.Share)
			}
			if n := len(l.History); n > 0 {
				top = max(top, l.History[n-1].Upper)
			}
			s.colour, s.band, s.lo, s.hi = chartColours-1, true, 0, l.BandHigh
			legend.Colour = s.colour
			errs = &chart{label: "share of errors against requests judged", yLabel: "share of requests that failed",
				yMax: niceCeil(top), stop: stop, series: []chartSeries{s}, legend: []htmlLegend{legend},
				caption: "The line is the share of requests that failed (no response, a status outside 100-399 or an unreadable version); " +
					"the darker band is its confidence interval, the light band the error budget."}
			continue
		}
		shares.series = append(shares.series, s)
		shares.legend = append(shares.legend, legend)
	}
	out := []chart{shares}
	if errs != nil {
		out = append(out, *errs)
	}
	return out
}
