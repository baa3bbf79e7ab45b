package grafana

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// testValues are template-variable values for parsing the queries: one
// instance, GPU and run, and Grafana's interval built-ins.
func testValues() map[string]string {
	return map[string]string{
		"datasource": "trainwatch", "instance": "gpu-box-1:9835", "gpu": "0", "run": "demo-llama-8b-sft",
		"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
	}
}

// allValues are the values Grafana substitutes when "All" is selected in
// the multi-value variables.
func allValues() map[string]string {
	v := testValues()
	v["gpu"], v["run"] = ".*", ".*"
	return v
}

func build(t *testing.T, name string) (*Dashboard, []byte) {
	t.Helper()
	d, err := Build(name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return d, b
}

func TestFilesAreDeterministic(t *testing.T) {
	a, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Files(Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dashboards/trainwatch-gpu.json",
		"dashboards/trainwatch-host.json",
		"dashboards/trainwatch-overview.json",
		"provisioning/dashboards/trainwatch.yml",
		"provisioning/datasources/trainwatch.yml",
	}
	var paths []string
	for i := range a {
		paths = append(paths, a[i].Path)
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two runs", a[i].Path)
		}
		if !bytes.HasSuffix(a[i].Data, []byte("\n")) {
			t.Errorf("%s does not end with a newline", a[i].Path)
		}
	}
	if !slices.Equal(paths, want) {
		t.Errorf("files %v, want %v", paths, want)
	}
}

func TestDashboardStructure(t *testing.T) {
	for _, s := range Specs() {
		t.Run(s.Name, func(t *testing.T) {
			d, b := build(t, s.Name)
			if d.UID != s.UID || d.SchemaVersion != SchemaVersion || d.ID != nil || !strings.HasPrefix(d.Title, "trainwatch — ") {
				t.Errorf("uid %q, schemaVersion %d, id %v, title %q", d.UID, d.SchemaVersion, d.ID, d.Title)
			}
			if bytes.Contains(b, []byte(`\u003c`)) || bytes.Contains(b, []byte(`\u003e`)) || bytes.Contains(b, []byte(`\u0026`)) {
				t.Error("HTML-escaped characters in the JSON")
			}
			vars := map[string]Variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if ds := d.Templating.List[0]; ds.Name != "datasource" || ds.Type != "datasource" || ds.Query != "prometheus" || ds.Current["value"] != DefaultDatasourceUID {
				t.Errorf("first variable %+v, want the prometheus data source variable", ds)
			}
			if v, ok := vars["instance"]; !ok || v.Type != "query" || v.Multi {
				t.Errorf("instance variable %+v", v)
			}

			ids := map[int]bool{}
			var occupied []GridPos
			for _, p := range d.Panels {
				if ids[p.ID] {
					t.Errorf("panel id %d used twice", p.ID)
				}
				ids[p.ID] = true
				g := p.GridPos
				if g.X < 0 || g.W <= 0 || g.X+g.W > gridWidth || g.H <= 0 {
					t.Errorf("panel %q: gridPos %+v off the grid", p.Title, g)
				}
				for _, o := range occupied {
					if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
						t.Errorf("panel %q at %+v overlaps a panel at %+v", p.Title, g, o)
					}
				}
				occupied = append(occupied, g)
				if p.Type == "row" {
					continue
				}
				if !slices.Contains([]string{"timeseries", "stat", "gauge", "table", "bargauge"}, p.Type) {
					t.Errorf("panel %q: type %q", p.Title, p.Type)
				}
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
					t.Errorf("panel %q: datasource %+v, want ${datasource}", p.Title, p.Datasource)
				}
				if p.Description == "" {
					t.Errorf("panel %q has no description", p.Title)
				}
				if u, _ := p.FieldConfig.Defaults["unit"].(string); u == "" && p.Type != "table" {
					t.Errorf("panel %q has no unit", p.Title)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					if refs[tg.RefID] || tg.RefID == "" {
						t.Errorf("panel %q: refId %q empty or used twice", p.Title, tg.RefID)
					}
					refs[tg.RefID] = true
					if tg.Datasource.UID != "${datasource}" {
						t.Errorf("panel %q %s: datasource %+v", p.Title, tg.RefID, tg.Datasource)
					}
					if p.Type == "timeseries" && (tg.Instant || !tg.Range || tg.LegendFormat == "") {
						t.Errorf("panel %q %s: a time series target must be a range query with a legend", p.Title, tg.RefID)
					}
					if p.Type != "timeseries" && !tg.Instant {
						t.Errorf("panel %q %s: want an instant query", p.Title, tg.RefID)
					}
					for _, n := range Variables(tg.Expr) {
						if _, ok := vars[n]; !ok && !strings.HasPrefix(n, "__") {
							t.Errorf("panel %q %s: variable $%s is not defined", p.Title, tg.RefID, n)
						}
					}
				}
			}
		})
	}
}

// TestQueriesParse parses every query of every dashboard with Prometheus'
// PromQL parser, with one value per variable and with "All" selected.
func TestQueriesParse(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, s := range Specs() {
		_, b := build(t, s.Name)
		qs, err := ExtractQueries(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) < 10 {
			t.Fatalf("%s: only %d queries", s.Name, len(qs))
		}
		for _, q := range qs {
			for _, vals := range []map[string]string{testValues(), allValues()} {
				src := q.Expr
				if q.Variable != "" {
					e, _, ok := LabelValues(q.Expr)
					if !ok {
						t.Errorf("%s: variable $%s: %q is not label_values(expr, label)", s.Name, q.Variable, q.Expr)
						continue
					}
					src = e
				}
				e, err := Substitute(src, vals)
				if err != nil {
					t.Errorf("%s: %s: %v", s.Name, q.Panel, err)
					continue
				}
				expr, err := p.ParseExpr(e)
				if err != nil {
					t.Errorf("%s: panel %q %s: %q does not parse: %v", s.Name, q.Panel, q.RefID, e, err)
					continue
				}
				if typ := expr.Type(); typ != parser.ValueTypeVector && typ != parser.ValueTypeScalar {
					t.Errorf("%s: panel %q %s: %q is a %s, want an instant vector", s.Name, q.Panel, q.RefID, e, typ)
				}
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"instance": "a:9835", "gpu": "0", "__rate_interval": "1m", "__range": "5m", "__range_s": "300"}
	tests := []struct {
		name, in, want, err string
	}{
		{"plain", `x{instance="$instance"}`, `x{instance="a:9835"}`, ""},
		{"braces and format", `x{instance="${instance}", gpu=~"${gpu:regex}"}`, `x{instance="a:9835", gpu=~"0"}`, ""},
		{"old syntax", `x{gpu="[[gpu]]"}`, `x{gpu="0"}`, ""},
		{"built-ins are not prefixes of each other", `rate(x[$__rate_interval]) + increase(x[$__range]) / $__range_s`,
			`rate(x[1m]) + increase(x[5m]) / 300`, ""},
		{"label_replace's $1 is not a variable", `label_replace(x, "a", "$1", "b", "(.*)")`, `label_replace(x, "a", "$1", "b", "(.*)")`, ""},
		{"unknown variable", `x{run=~"$run", job="$job"}`, "", "$run, $job"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Substitute(tt.in, vals)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Substitute(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestVariables(t *testing.T) {
	got := Variables(`rate(x{instance="$instance", gpu=~"${gpu:regex}"}[$__rate_interval]) * [[k]] + label_replace(y, "a", "$1", "b", "(.*)")`)
	if want := []string{"__rate_interval", "gpu", "instance", "k"}; !slices.Equal(got, want) {
		t.Errorf("Variables = %v, want %v", got, want)
	}
}

func TestLabelValues(t *testing.T) {
	tests := []struct {
		in, expr, label string
		ok              bool
	}{
		{`label_values(trainwatch_gpu_up{instance="$instance"}, gpu)`, `trainwatch_gpu_up{instance="$instance"}`, "gpu", true},
		{` label_values( sum by (a, b) (x) , b ) `, `sum by (a, b) (x)`, "b", true},
		{`label_values(instance)`, "", "", false},
		{`query_result(up)`, "", "", false},
	}
	for _, tt := range tests {
		expr, label, ok := LabelValues(tt.in)
		if expr != tt.expr || label != tt.label || ok != tt.ok {
			t.Errorf("LabelValues(%q) = %q, %q, %v; want %q, %q, %v", tt.in, expr, label, ok, tt.expr, tt.label, tt.ok)
		}
	}
}

func TestExtractQueries(t *testing.T) {
	dash := `{
	  "panels": [
	    {"type": "row", "title": "Open", "panels": []},
	    {"type": "timeseries", "title": "A", "targets": [{"expr": "up", "refId": "A", "range": true}, {"refId": "B"}]},
	    {"type": "row", "title": "Collapsed", "collapsed": true, "panels": [
	      {"type": "stat", "title": "B", "targets": [{"expr": "x", "refId": "A", "instant": true}]}
	    ]}
	  ],
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "a", "type": "query", "query": {"query": "label_values(up, instance)", "refId": "X"}},
	    {"name": "b", "type": "query", "query": "label_values(y, job)"},
	    {"name": "c", "type": "query", "query": "", "definition": "label_values(z, job)"}
	  ]}
	}`
	got, err := ExtractQueries([]byte(dash))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{Panel: "A", Row: "Open", RefID: "A", Expr: "up"},
		{Panel: "B", Row: "Collapsed", RefID: "A", Expr: "x", Instant: true},
		{Panel: "variable $a", Variable: "a", Expr: "label_values(up, instance)"},
		{Panel: "variable $b", Variable: "b", Expr: "label_values(y, job)"},
		{Panel: "variable $c", Variable: "c", Expr: "label_values(z, job)"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ExtractQueries =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := ExtractQueries([]byte("{")); err == nil {
		t.Error("broken JSON: no error")
	}
}

func TestProvisioning(t *testing.T) {
	files, err := Files(Options{DatasourceUID: "tw-1", DatasourceURL: "http://gpu-box-1:9835"})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			JSONData                     map[string]any `yaml:"jsonData"`
		}
	}
	if err := yaml.Unmarshal(byPath["provisioning/datasources/trainwatch.yml"], &ds); err != nil {
		t.Fatal(err)
	}
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("data sources %+v: want one (the alternative stays a comment)", ds)
	}
	if d := ds.Datasources[0]; d.UID != "tw-1" || d.Type != "prometheus" || d.URL != "http://gpu-box-1:9835" || d.Access != "proxy" || d.JSONData["timeInterval"] != "1s" {
		t.Errorf("data source %+v", d)
	}
	if !bytes.Contains(byPath["provisioning/datasources/trainwatch.yml"], []byte("#    url: http://prometheus:9090")) {
		t.Error("no commented alternative for a central Prometheus")
	}

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Type string
			Options    map[string]any
		}
	}
	if err := yaml.Unmarshal(byPath["provisioning/dashboards/trainwatch.yml"], &dp); err != nil {
		t.Fatal(err)
	}
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options["path"] != DashboardsPath {
		t.Errorf("dashboard providers %+v", dp)
	}

	// The dashboards default to the provisioned data source.
	var d Dashboard
	if err := json.Unmarshal(byPath["dashboards/trainwatch-overview.json"], &d); err != nil {
		t.Fatal(err)
	}
	if got := d.Templating.List[0].Current["value"]; got != "tw-1" {
		t.Errorf("datasource variable defaults to %v, want tw-1", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"defaults", Options{}, ""},
		{"custom", Options{DatasourceUID: "a_b.c-1", DatasourceURL: "https://prom.example.com/prometheus"}, ""},
		{"uid with a space", Options{DatasourceUID: "a b"}, "only letters"},
		{"uid too long", Options{DatasourceUID: strings.Repeat("a", 41)}, "at most 40"},
		{"url without scheme", Options{DatasourceURL: "localhost:9835"}, "http://"},
		{"url with a quote", Options{DatasourceURL: `http://a"b`}, "quotes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate() = %v, want %q", err, tt.err)
			}
		})
	}
	if _, err := Files(Options{DatasourceUID: "a b"}); err == nil {
		t.Error("Files with a bad uid: no error")
	}
	if _, err := Build("nope", Options{}); err == nil || !strings.Contains(err.Error(), "gpu, host, overview") {
		t.Errorf("Build(nope) = %v", err)
	}
}
