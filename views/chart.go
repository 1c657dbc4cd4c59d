package views

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// ChartPoint is one value at one time.
type ChartPoint struct {
	At    time.Time
	Value float64
	Label string // the value for people, e.g. "#12 database succeeded: 3.1 MiB"; hovers add the time
	Bad   bool   // drawn in the error colour (a failed backup)
}

// Chart is a server-rendered SVG line chart of one series over a window.
type Chart struct {
	ID, Title string
	Unit      string // "bytes", "seconds", "ratio" or ""
	From, To  time.Time
	Points    []ChartPoint
}

// Plot geometry in SVG user units; the SVG scales to its container. The viewBox is small and the labels large
// (ChartFont units) so that a chart shown about 240 px wide on a phone still has labels about 12 px high.
const (
	chartW, chartH         = 320.0, 190.0
	padL, padR, padT, padB = 76.0, 14.0, 10.0, 30.0
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
)

// ChartFont is the axis labels' size in SVG units (see the geometry above).
const ChartFont = "15"

// ChartDot is a plotted point.
type ChartDot struct {
	X, Y  string
	Title string
	Bad   bool
}

// ChartTick is an axis label at a position.
type ChartTick struct {
	Pos   string
	Label string
}

// Geometry is what the template draws.
type Geometry struct {
	W, H, L, R, T, B string
	LabelX, LabelY   string // where y labels end and x labels sit
	Line             string // polyline points
	Dots             []ChartDot
	YTicks, XTicks   []ChartTick
}

// Geometry computes the chart's coordinates: y from 0 to a rounded maximum, x across the window.
func (c Chart) Geometry(tz *time.Location) Geometry {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	g := Geometry{W: f(chartW), H: f(chartH), L: f(padL), R: f(chartW - padR), T: f(padT), B: f(chartH - padB),
		LabelX: f(padL - 6), LabelY: f(chartH - 8)}
	ymax := 0.0
	for _, p := range c.Points {
		ymax = math.Max(ymax, p.Value)
	}
	if c.Unit == "ratio" {
		ymax = 1
	}
	ymax = niceCeil(ymax)
	span := c.To.Sub(c.From).Seconds()
	if span <= 0 {
		span = 1
	}
	for _, p := range c.Points {
		x := padL + plotW*p.At.Sub(c.From).Seconds()/span
		y := padT + plotH*(1-p.Value/ymax)
		g.Line += f(x) + "," + f(y) + " "
		g.Dots = append(g.Dots, ChartDot{X: f(x), Y: f(y), Title: p.Label + " at " + p.At.In(tz).Format(TimeLayout), Bad: p.Bad})
	}
	// Three labels per axis: at this size more would overlap.
	for i := 0; i <= 2; i++ {
		v := ymax * float64(i) / 2
		g.YTicks = append(g.YTicks, ChartTick{Pos: f(padT + plotH*(1-float64(i)/2)), Label: FormatValue(v, c.Unit)})
	}
	layout := "Jan 2"
	if c.To.Sub(c.From) <= 36*time.Hour {
		layout = "15:04"
	}
	for i := 0; i <= 2; i++ {
		t := c.From.Add(time.Duration(float64(c.To.Sub(c.From)) * float64(i) / 2))
		g.XTicks = append(g.XTicks, ChartTick{Pos: f(padL + plotW*float64(i)/2), Label: t.In(tz).Format(layout)})
	}
	return g
}

// FormatValue renders a value in its unit for axes and hovers.
func FormatValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		return Bytes(int64(v))
	case "seconds":
		return Dur(time.Duration(v * float64(time.Second)))
	case "ratio":
		return fmt.Sprintf("%.0f%%", v*100)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, so axis labels read well.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
