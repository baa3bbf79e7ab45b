package grafana

import (
	"fmt"
	"strings"
)

// gridWidth is the width of Grafana's dashboard grid.
const gridWidth = 24

// datasourceVar is the template variable every panel and target takes its
// data source from.
const datasourceVar = "${datasource}"

func promDS() DataSourceRef { return DataSourceRef{Type: "prometheus", UID: datasourceVar} }

// layout places panels on the grid left to right, starting a new line when
// a panel does not fit, and numbers them in that order.
type layout struct {
	panels []*Panel
	x, y   int
	lineH  int
	id     int
}

// row starts a (non-collapsed) row on a line of its own.
func (l *layout) row(title string) {
	l.newline()
	l.id++
	collapsed := false
	l.panels = append(l.panels, &Panel{Type: "row", Title: title, Collapsed: &collapsed,
		GridPos: GridPos{H: 1, W: gridWidth, X: 0, Y: l.y}, ID: l.id})
	l.y++
}

func (l *layout) newline() {
	if l.x > 0 {
		l.y += l.lineH
		l.x, l.lineH = 0, 0
	}
}

// add places p, w columns wide and h high.
func (l *layout) add(w, h int, p *Panel) {
	if l.x+w > gridWidth {
		l.newline()
	}
	l.id++
	p.ID = l.id
	p.GridPos = GridPos{H: h, W: w, X: l.x, Y: l.y}
	l.x += w
	l.lineH = max(l.lineH, h)
	l.panels = append(l.panels, p)
}

// series is a range query drawn as time series, with its legend.
func series(expr, legend string) Target {
	return Target{Datasource: promDS(), EditorMode: "code", Expr: expr, Format: "time_series",
		LegendFormat: legend, Range: true}
}

// instant is an instant query whose result is a table (one row per series).
func instant(expr string) Target {
	return Target{Datasource: promDS(), EditorMode: "code", Expr: expr, Format: "table",
		Instant: true, LegendFormat: "__auto"}
}

// lastValue is an instant query for stat, gauge and bar gauge panels.
func lastValue(expr, legend string) Target {
	return Target{Datasource: promDS(), EditorMode: "code", Expr: expr, Format: "time_series",
		Instant: true, LegendFormat: legend}
}

// newPanel returns a panel of type typ with its targets' refIds set (A,
// B, ...) and the unit in its field defaults.
func newPanel(typ, title, desc, unit string, targets ...Target) *Panel {
	ds := promDS()
	for i := range targets {
		targets[i].RefID = string(rune('A' + i))
	}
	return &Panel{
		Type: typ, Title: title, Description: desc, Datasource: &ds, Targets: targets,
		FieldConfig: &FieldConfig{Defaults: map[string]any{
			"unit":       unit,
			"color":      map[string]any{"mode": "palette-classic"},
			"thresholds": thresholds(),
		}, Overrides: []Override{}},
	}
}

// thresholds returns absolute thresholds: green, then each (value, color)
// step.
func thresholds(steps ...any) map[string]any {
	list := []any{map[string]any{"color": "green", "value": nil}}
	for i := 0; i+1 < len(steps); i += 2 {
		list = append(list, map[string]any{"value": steps[i], "color": steps[i+1]})
	}
	return map[string]any{"mode": "absolute", "steps": list}
}

func reduceLast() map[string]any {
	return map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false}
}

// timeseries is a line chart.
func timeseries(title, desc, unit string, targets ...Target) *Panel {
	p := newPanel("timeseries", title, desc, unit, targets...)
	p.FieldConfig.Defaults["custom"] = map[string]any{
		"axisBorderShow":    false,
		"axisCenteredZero":  false,
		"axisColorMode":     "text",
		"axisLabel":         "",
		"axisPlacement":     "auto",
		"barAlignment":      0,
		"drawStyle":         "line",
		"fillOpacity":       10,
		"gradientMode":      "none",
		"hideFrom":          map[string]any{"legend": false, "tooltip": false, "viz": false},
		"insertNulls":       false,
		"lineInterpolation": "linear",
		"lineWidth":         1,
		"pointSize":         4,
		"scaleDistribution": map[string]any{"type": "linear"},
		"showPoints":        "never",
		"spanNulls":         false,
		"stacking":          map[string]any{"group": "A", "mode": "none"},
		"thresholdsStyle":   map[string]any{"mode": "off"},
	}
	p.Options = map[string]any{
		"legend":  map[string]any{"calcs": []string{}, "displayMode": "list", "placement": "bottom", "showLegend": true},
		"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
	}
	return p
}

// stat is a single big number per series.
func stat(title, desc, unit string, targets ...Target) *Panel {
	p := newPanel("stat", title, desc, unit, targets...)
	p.FieldConfig.Defaults["color"] = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"colorMode":         "value",
		"graphMode":         "area",
		"justifyMode":       "auto",
		"orientation":       "auto",
		"reduceOptions":     reduceLast(),
		"showPercentChange": false,
		"textMode":          "auto",
		"wideLayout":        true,
	}
	return p
}

// gauge is a dial per series.
func gauge(title, desc, unit string, targets ...Target) *Panel {
	p := newPanel("gauge", title, desc, unit, targets...)
	p.FieldConfig.Defaults["color"] = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"minVizHeight":         75,
		"minVizWidth":          75,
		"orientation":          "auto",
		"reduceOptions":        reduceLast(),
		"showThresholdLabels":  false,
		"showThresholdMarkers": true,
		"sizing":               "auto",
	}
	return p
}

// bargauge is a horizontal bar per series.
func bargauge(title, desc, unit string, targets ...Target) *Panel {
	p := newPanel("bargauge", title, desc, unit, targets...)
	p.FieldConfig.Defaults["color"] = map[string]any{"mode": "thresholds"}
	p.Options = map[string]any{
		"displayMode":   "gradient",
		"maxVizHeight":  300,
		"minVizHeight":  16,
		"minVizWidth":   8,
		"namePlacement": "auto",
		"orientation":   "horizontal",
		"reduceOptions": reduceLast(),
		"showUnfilled":  true,
		"sizing":        "auto",
		"valueMode":     "color",
	}
	return p
}

// column describes a table column made from one instant query's value.
type column struct {
	name, unit string
	expr       string
}

// table is a table of instant queries. With several queries, their rows are
// merged on their labels (every query must return the same label set) and
// each query's value becomes the named column. exclude hides label
// columns; rename renames them.
func table(title, desc string, cols []column, exclude []string, rename map[string]string) *Panel {
	targets := make([]Target, len(cols))
	for i, c := range cols {
		targets[i] = instant(c.expr)
	}
	p := newPanel("table", title, desc, "", targets...)
	delete(p.FieldConfig.Defaults, "unit")
	p.FieldConfig.Defaults["color"] = map[string]any{"mode": "thresholds"}
	p.FieldConfig.Defaults["custom"] = map[string]any{
		"align":       "auto",
		"cellOptions": map[string]any{"type": "auto"},
		"filterable":  true,
		"inspect":     false,
	}
	p.Options = map[string]any{
		"cellHeight": "sm",
		"footer":     map[string]any{"countRows": false, "fields": "", "reducer": []string{"sum"}, "show": false},
		"showHeader": true,
	}
	excl := map[string]any{"Time": true, "__name__": true, "job": true, "instance": true}
	for _, e := range exclude {
		excl[e] = true
	}
	names := map[string]any{}
	for k, v := range rename {
		names[k] = v
	}
	for i, c := range cols {
		value := "Value"
		if len(cols) > 1 {
			value = "Value #" + targets[i].RefID
		}
		if c.name == "" {
			excl[value] = true
			continue
		}
		names[value] = c.name
		if c.unit != "" {
			p.override("byName", c.name, "unit", c.unit)
		}
	}
	if len(cols) > 1 {
		p.Transformations = append(p.Transformations, Transformation{ID: "merge", Options: map[string]any{}})
	}
	p.Transformations = append(p.Transformations, Transformation{ID: "organize", Options: map[string]any{
		"excludeByName": excl,
		"renameByName":  names,
	}})
	return p
}

// order puts a table's columns in this order (their names before
// renaming: label names and "Value #A", ...); columns not named follow.
func (p *Panel) order(names ...string) *Panel {
	idx := map[string]any{}
	for i, n := range names {
		idx[n] = i
	}
	for i := range p.Transformations {
		if p.Transformations[i].ID == "organize" {
			p.Transformations[i].Options["indexByName"] = idx
		}
	}
	return p
}

// set sets a field default.
func (p *Panel) set(key string, v any) *Panel {
	p.FieldConfig.Defaults[key] = v
	return p
}

// custom sets a field default of the visualisation's custom options.
func (p *Panel) custom(key string, v any) *Panel {
	c, _ := p.FieldConfig.Defaults["custom"].(map[string]any)
	if c == nil {
		c = map[string]any{}
		p.FieldConfig.Defaults["custom"] = c
	}
	c[key] = v
	return p
}

// minMax fixes the axis or gauge range.
func (p *Panel) minMax(lo, hi float64) *Panel {
	return p.set("min", lo).set("max", hi)
}

// stacked stacks the series of a time series panel.
func (p *Panel) stacked() *Panel {
	return p.custom("stacking", map[string]any{"group": "A", "mode": "normal"}).custom("fillOpacity", 40)
}

// steps sets the thresholds after green: value, color, value, color, ...
func (p *Panel) steps(steps ...any) *Panel {
	return p.set("thresholds", thresholds(steps...))
}

// override sets one property for the fields a matcher selects.
func (p *Panel) override(matcher, pattern, prop string, v any) *Panel {
	for i := range p.FieldConfig.Overrides {
		o := &p.FieldConfig.Overrides[i]
		if o.Matcher.ID == matcher && o.Matcher.Options == pattern {
			o.Properties = append(o.Properties, Property{ID: prop, Value: v})
			return p
		}
	}
	p.FieldConfig.Overrides = append(p.FieldConfig.Overrides, Override{
		Matcher: Matcher{ID: matcher, Options: pattern}, Properties: []Property{{ID: prop, Value: v}}})
	return p
}

// link adds a data link to every field of the panel.
func (p *Panel) link(title, url string) *Panel {
	links, _ := p.FieldConfig.Defaults["links"].([]any)
	return p.set("links", append(links, map[string]any{"title": title, "url": url}))
}

// mappings maps values to text and colour: value, text, color, ...
func (p *Panel) mappings(m ...string) *Panel {
	opts := map[string]any{}
	for i := 0; i+2 < len(m); i += 3 {
		opts[m[i]] = map[string]any{"text": m[i+1], "color": m[i+2], "index": i / 3}
	}
	return p.set("mappings", []any{map[string]any{"type": "value", "options": opts}})
}

// sel is a selector: metric{matcher, ...}.
func sel(metric string, matchers ...string) string {
	return metric + "{" + strings.Join(matchers, ", ") + "}"
}

// keep aggregates expr to the given labels (max), dropping the metric
// name, so that the columns of a table merge on the same labels.
func keep(labels []string, expr string) string {
	return fmt.Sprintf("max by (%s) (%s)", strings.Join(labels, ", "), expr)
}

// eq, ne and nre are label matchers.
func eq(label, value string) string { return fmt.Sprintf("%s=%q", label, value) }
func ne(label, value string) string { return fmt.Sprintf("%s!=%q", label, value) }
func nre(label, value string) string {
	return fmt.Sprintf("%s!~%q", label, value)
}

// Matchers on the template variables.
const (
	onInstance = `instance="$instance"`
	onGPUs     = `gpu=~"$gpu"` // multi-value: the overview
	onGPU      = `gpu="$gpu"`  // one GPU: the GPU dashboard
	onRuns     = `run=~"$run"`
)

// Grafana's interval variables.
const (
	rateInterval = "$__rate_interval"
	rangeVar     = "$__range"
)

// mib is the factor from dcgm-exporter's MiB to bytes.
const mib = "1048576"
