package grafana

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Query is one PromQL query of a dashboard: a panel target's, or a query
// variable's label_values() query.
type Query struct {
	// Panel is the panel's title; for a variable, "variable $NAME".
	Panel string
	// Row is the title of the row the panel sits in ("" for none).
	Row string
	// RefID is the target's refId; Variable the variable's name.
	RefID, Variable string
	// Expr is the query as written, with its template variables.
	Expr string
	// Instant is true for instant targets (stat, gauge, table panels).
	Instant bool
}

// ExtractQueries lists the queries of a dashboard's JSON: every panel
// target that has an expr, in the order of the panels (rows' own panels,
// collapsed or not, included), then every query variable. It reads any
// dashboard of the current layout, not only the generated ones.
func ExtractQueries(dashboard []byte) ([]Query, error) {
	var d struct {
		Panels     []jsonPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Definition string          `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("read dashboard JSON: %w", err)
	}
	var out []Query
	row := ""
	var walk func(ps []jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				row = p.Title
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				out = append(out, Query{Panel: p.Title, Row: row, RefID: t.RefID, Expr: t.Expr, Instant: t.Instant && !t.Range})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		var obj struct {
			Query string `json:"query"`
		}
		var s string
		switch {
		case json.Unmarshal(v.Query, &obj) == nil && obj.Query != "":
			q = obj.Query
		case json.Unmarshal(v.Query, &s) == nil && s != "":
			q = s
		}
		if strings.TrimSpace(q) == "" {
			continue
		}
		out = append(out, Query{Panel: "variable $" + v.Name, Variable: v.Name, Expr: q})
	}
	return out, nil
}

type jsonPanel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr    string `json:"expr"`
		RefID   string `json:"refId"`
		Instant bool   `json:"instant"`
		Range   bool   `json:"range"`
	} `json:"targets"`
	Panels []jsonPanel `json:"panels"`
}

// variableRE matches Grafana's variable syntaxes: ${name}, ${name:format},
// ${name.field}, [[name]], [[name:format]] and $name. A $ followed by a
// digit ($1 in label_replace) is not a variable.
var variableRE = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?:[.:][^}]*)?\}|\[\[([A-Za-z_]\w*)(?::\w+)?\]\]|\$([A-Za-z_]\w*)`)

// Variables returns the names of the template variables expr uses,
// Grafana's built-ins ($__rate_interval, ...) included, sorted.
func Variables(expr string) []string {
	var out []string
	for _, m := range variableRE.FindAllStringSubmatch(expr, -1) {
		n := m[1] + m[2] + m[3]
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Substitute replaces the template variables in expr by values (keyed by
// name without the $: "instance", "__rate_interval"), as Grafana does for
// single values. A variable without a value is an error naming it.
func Substitute(expr string, values map[string]string) (string, error) {
	var missing []string
	out := variableRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := variableRE.FindStringSubmatch(m)
		n := sm[1] + sm[2] + sm[3]
		v, ok := values[n]
		if !ok {
			if !slices.Contains(missing, n) {
				missing = append(missing, n)
			}
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for template variable(s) %s in %q", "$"+strings.Join(missing, ", $"), expr)
	}
	return out, nil
}

// labelValuesRE matches Grafana's label_values(expr, label) variable query.
var labelValuesRE = regexp.MustCompile(`^\s*label_values\s*\((?s:(.*)),\s*([A-Za-z_]\w*)\s*\)\s*$`)

// LabelValues splits a label_values(expr, label) variable query into its
// series expression and label. ok is false for any other query (including
// label_values(label) without an expression).
func LabelValues(query string) (expr, label string, ok bool) {
	m := labelValuesRE.FindStringSubmatch(query)
	if m == nil || strings.TrimSpace(m[1]) == "" {
		return "", "", false
	}
	return strings.TrimSpace(m[1]), m[2], true
}
