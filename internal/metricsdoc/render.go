package metricsdoc

import (
	"fmt"
	"slices"
	"strings"
)

// The generated regions of the page, by name. Everything outside them is
// written by hand and kept as it is.
const (
	regionOverview    = "overview"
	regionMetrics     = "metrics"
	regionPatterns    = "patterns"
	regionConditional = "conditional"
)

var regions = []string{regionOverview, regionMetrics, regionPatterns, regionConditional}

// beginMarker and endMarker delimit a generated region.
func beginMarker(name string) string {
	return "<!-- BEGIN GENERATED: " + name + " (" + Command + " regenerates) -->"
}

func endMarker(name string) string { return "<!-- END GENERATED: " + name + " -->" }

// Render returns doc with every generated region replaced by what ref
// says. Each region's markers must be in doc, once, in order.
func Render(doc string, ref *Reference) (string, error) {
	for _, name := range regions {
		var body string
		switch name {
		case regionOverview:
			body = renderOverview(ref)
		case regionMetrics:
			body = renderMetrics(ref)
		case regionPatterns:
			body = renderPatterns(ref)
		case regionConditional:
			body = renderConditionals(ref)
		}
		var err error
		if doc, err = replaceRegion(doc, name, body); err != nil {
			return "", err
		}
	}
	return doc, nil
}

// replaceRegion replaces the text between name's markers by body.
func replaceRegion(doc, name, body string) (string, error) {
	i, j, err := regionBounds(doc, name)
	if err != nil {
		return "", err
	}
	return doc[:i] + "\n" + body + "\n" + doc[j:], nil
}

// regionBounds returns where name's region's content starts (after the
// begin marker) and ends (at the end marker).
func regionBounds(doc, name string) (start, end int, err error) {
	begin, stop := beginMarker(name), endMarker(name)
	if n := strings.Count(doc, begin); n != 1 {
		return 0, 0, fmt.Errorf("the page must hold the line %q once, not %d times", begin, n)
	}
	if n := strings.Count(doc, stop); n != 1 {
		return 0, 0, fmt.Errorf("the page must hold the line %q once, not %d times", stop, n)
	}
	start = strings.Index(doc, begin) + len(begin)
	end = strings.Index(doc, stop)
	if end < start {
		return 0, 0, fmt.Errorf("%q comes before %q", stop, begin)
	}
	return start, end, nil
}

// cell makes text safe for a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// code formats s as inline code ("" stays empty).
func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// labelsCell renders a metric's labels: the label names, then, when some
// appear only in a configuration, "; WHEN: NAMES".
func labelsCell(m Metric) string {
	s := strings.Join(m.Labels, ", ")
	if len(m.OptionalLabels) > 0 {
		s += "; " + m.OptionalWhen + ": " + strings.Join(m.OptionalLabels, ", ")
	}
	return s
}

// parseLabelsCell is labelsCell's inverse.
func parseLabelsCell(s string) (labels, optional []string, when string) {
	base, opt, hasOpt := strings.Cut(s, "; ")
	labels = splitList(base)
	if hasOpt {
		w, names, _ := strings.Cut(opt, ": ")
		when, optional = w, splitList(names)
	}
	return labels, optional, when
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

const metricsHeader = "| metric | type | unit | labels | source | compatibility | help |\n|---|---|---|---|---|---|---|\n"

func renderOverview(ref *Reference) string {
	var b strings.Builder
	sources := map[string]bool{}
	for _, m := range ref.Metrics {
		sources[m.Source] = true
	}
	names := map[string]bool{}
	for _, m := range ref.Metrics {
		names[m.Name] = true
	}
	fmt.Fprintf(&b, "%d metric families (%d rows: a family that two sources emit, such as `trainwatch_gpu_up` from NVML and amdgpu, has a row in each) from %d sources.\n\n", len(names), len(ref.Metrics), len(sources))
	b.WriteString("| section | sources | families | compatibility |\n|---|---|---|---|\n")
	for _, s := range sections {
		var srcs []string
		compat := map[string]int{}
		n := 0
		for _, src := range s.sources {
			if !sources[src] {
				continue
			}
			srcs = append(srcs, code(src))
			for _, m := range ref.Metrics {
				if m.Source == src {
					n++
					c := m.Compat
					if strings.HasPrefix(c, "dcgm-exporter ") {
						c = "dcgm-exporter"
					}
					compat[c]++
				}
			}
		}
		if n == 0 {
			continue
		}
		var cs []string
		for c, k := range compat {
			cs = append(cs, fmt.Sprintf("%s %d", c, k))
		}
		slices.Sort(cs)
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %d | %s |\n", s.title, anchor(s.title), strings.Join(srcs, ", "), n, strings.Join(cs, ", "))
	}
	return b.String()
}

// anchor is the GitHub anchor of a heading.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func renderMetrics(ref *Reference) string {
	var b strings.Builder
	for i, s := range sections {
		var rows []Metric
		for _, m := range ref.Metrics {
			if sectionOf(m.Source) == s.title {
				rows = append(rows, m)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if i > 0 && b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "### %s\n\n%s", s.title, metricsHeader)
		for _, m := range rows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", code(m.Name), m.Type, cell(m.Unit),
				cell(labelsCell(m)), code(m.Source), cell(m.Compat), cell(m.Help))
		}
	}
	return b.String()
}

func renderPatterns(ref *Reference) string {
	var b strings.Builder
	b.WriteString("| names | type | labels | source | what |\n|---|---|---|---|---|\n")
	for _, p := range ref.Patterns {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(p.Glob), p.Type, cell(strings.Join(p.Labels, ", ")), code(p.Source), cell(p.What))
	}
	return b.String()
}

func renderConditionals(ref *Reference) string {
	var b strings.Builder
	b.WriteString("| metric | source | emitted only when |\n|---|---|---|\n")
	cs := slices.Clone(ref.Conditionals)
	slices.SortStableFunc(cs, func(a, b Conditional) int {
		if c := sourceRank(a.Source) - sourceRank(b.Source); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, c := range cs {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", code(c.Name), code(c.Source), cell(c.When))
	}
	return b.String()
}

// ParseDoc reads the generated regions of a page back: the metrics, the
// patterns and the conditions, as Render wrote them.
func ParseDoc(doc string) (*Reference, error) {
	ref := &Reference{}
	for _, name := range []string{regionMetrics, regionPatterns, regionConditional} {
		i, j, err := regionBounds(doc, name)
		if err != nil {
			return nil, err
		}
		for n, line := range strings.Split(doc[i:j], "\n") {
			if !strings.HasPrefix(line, "| `") {
				continue
			}
			cells := splitRow(line)
			bad := func() error { return fmt.Errorf("region %s, line %d: malformed row %q", name, n, line) }
			switch name {
			case regionMetrics:
				if len(cells) != 7 {
					return nil, bad()
				}
				m := Metric{Name: unCode(cells[0]), Type: cells[1], Unit: cells[2], Source: unCode(cells[4]), Compat: cells[5], Help: cells[6]}
				m.Labels, m.OptionalLabels, m.OptionalWhen = parseLabelsCell(cells[3])
				ref.Metrics = append(ref.Metrics, m)
			case regionPatterns:
				if len(cells) != 5 {
					return nil, bad()
				}
				ref.Patterns = append(ref.Patterns, Pattern{Glob: unCode(cells[0]), Type: cells[1], Labels: splitList(cells[2]), Source: unCode(cells[3]), What: cells[4]})
			case regionConditional:
				if len(cells) != 3 {
					return nil, bad()
				}
				ref.Conditionals = append(ref.Conditionals, Conditional{Name: unCode(cells[0]), Source: unCode(cells[1]), When: cells[2]})
			}
		}
	}
	if len(ref.Metrics) == 0 {
		return nil, fmt.Errorf("region %s holds no metric", regionMetrics)
	}
	return ref, nil
}

// splitRow splits a Markdown table row into its cells, unescaping \|.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

func unCode(s string) string { return strings.Trim(s, "`") }
