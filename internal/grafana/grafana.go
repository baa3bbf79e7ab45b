// Package grafana generates trainwatch's Grafana dashboards (the JSON model
// of Grafana 10 and 11) and the provisioning files that load them: a
// Prometheus data source pointing at the agent, and a file provider for the
// dashboards. The output is deterministic (fixed uids and panel ids, sorted
// keys, no timestamps) so that the files can be committed and diffed.
//
// Every panel takes its data source from the ${datasource} template
// variable and its host from ${instance}, so the dashboards work against an
// agent (which answers the Prometheus API from its own history) as well as
// against a central Prometheus that scrapes many agents.
package grafana

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Defaults of Options.
const (
	DefaultDatasourceUID = "trainwatch"
	DefaultDatasourceURL = "http://localhost:9835"
)

// DashboardsPath is where the generated dashboard provider expects the
// dashboard files inside the Grafana server (mount or copy dashboards/
// there).
const DashboardsPath = "/var/lib/grafana/dashboards/trainwatch"

// Tag is the tag of every generated dashboard; their links find each other
// by it.
const Tag = "trainwatch"

// Options adjust the generated files.
type Options struct {
	// DatasourceUID is the uid of the provisioned data source and the
	// default of the dashboards' ${datasource} variable (default
	// "trainwatch").
	DatasourceUID string
	// DatasourceURL is the provisioned data source's URL (default the
	// local agent, http://localhost:9835).
	DatasourceURL string
}

func (o Options) withDefaults() Options {
	if o.DatasourceUID == "" {
		o.DatasourceUID = DefaultDatasourceUID
	}
	if o.DatasourceURL == "" {
		o.DatasourceURL = DefaultDatasourceURL
	}
	return o
}

// Validate reports options Grafana would refuse.
func (o Options) Validate() error {
	o = o.withDefaults()
	if len(o.DatasourceUID) > 40 {
		return fmt.Errorf("data source uid %q: at most 40 characters", o.DatasourceUID)
	}
	for _, c := range o.DatasourceUID {
		if !(c == '-' || c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return fmt.Errorf("data source uid %q: only letters, digits, '-', '_' and '.' are allowed", o.DatasourceUID)
		}
	}
	if !strings.HasPrefix(o.DatasourceURL, "http://") && !strings.HasPrefix(o.DatasourceURL, "https://") {
		return fmt.Errorf("data source URL %q: want http:// or https://", o.DatasourceURL)
	}
	if strings.ContainsAny(o.DatasourceURL, " \t\r\n#\"'") {
		return fmt.Errorf("data source URL %q: must not contain spaces, quotes or '#'", o.DatasourceURL)
	}
	return nil
}

// Spec names one generated dashboard.
type Spec struct {
	// Name is the short name `trainwatch grafana export --dashboard` takes.
	Name string
	// UID is the dashboard's fixed uid; File is its file name.
	UID, File string
	build     func(Options) *Dashboard
}

// Specs lists the dashboards, in the order of their names.
func Specs() []Spec {
	return []Spec{
		{Name: "gpu", UID: "trainwatch-gpu", File: "trainwatch-gpu.json", build: gpuDashboard},
		{Name: "host", UID: "trainwatch-host", File: "trainwatch-host.json", build: hostDashboard},
		{Name: "overview", UID: "trainwatch-overview", File: "trainwatch-overview.json", build: overviewDashboard},
	}
}

// Names returns the dashboards' short names.
func Names() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name)
	}
	return out
}

// Build returns the named dashboard ("overview", "gpu" or "host").
func Build(name string, opts Options) (*Dashboard, error) {
	for _, s := range Specs() {
		if s.Name == name {
			d := s.build(opts.withDefaults())
			d.UID = s.UID
			return d, nil
		}
	}
	return nil, fmt.Errorf("unknown dashboard %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// Encode returns the dashboard's JSON: indented by two spaces, keys in a
// fixed order, no HTML escaping (PromQL keeps its < and >), and a final
// newline.
func (d *Dashboard) Encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("encode dashboard %q: %w", d.UID, err)
	}
	return buf.Bytes(), nil
}

// File is one generated file: its path relative to the output directory
// (slash-separated) and its content.
type File struct {
	Path string
	Data []byte
}

// Files returns every generated file, sorted by path: the dashboards under
// dashboards/, and Grafana's provisioning files under
// provisioning/datasources/ and provisioning/dashboards/.
func Files(opts Options) ([]File, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	var out []File
	for _, s := range Specs() {
		d, err := Build(s.Name, opts)
		if err != nil {
			return nil, err
		}
		b, err := d.Encode()
		if err != nil {
			return nil, err
		}
		out = append(out, File{Path: path.Join("dashboards", s.File), Data: b})
	}
	out = append(out,
		File{Path: "provisioning/dashboards/trainwatch.yml", Data: dashboardProvider()},
		File{Path: "provisioning/datasources/trainwatch.yml", Data: datasource(opts)},
	)
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// newDashboard returns a dashboard with trainwatch's common settings, its
// panels laid out by l and its template variables.
func newDashboard(title, desc string, l *layout, vars []Variable) *Dashboard {
	return &Dashboard{
		Annotations: Annotations{List: []Annotation{{
			BuiltIn:    1,
			Datasource: DataSourceRef{Type: "grafana", UID: "-- Grafana --"},
			Enable:     true,
			Hide:       true,
			IconColor:  "rgba(0, 211, 255, 1)",
			Name:       "Annotations & Alerts",
			Type:       "dashboard",
		}}},
		Description:  desc,
		Editable:     true,
		GraphTooltip: 1, // shared crosshair
		Links: []Link{{
			AsDropdown: true, Icon: "external link", IncludeVars: true, KeepTime: true,
			Tags: []string{Tag}, Title: "trainwatch dashboards", Type: "dashboards",
		}},
		Panels:        l.panels,
		Refresh:       "30s",
		SchemaVersion: SchemaVersion,
		Tags:          []string{Tag, "gpu", "training"},
		Templating:    Templating{List: vars},
		Time:          TimeRange{From: "now-1h", To: "now"},
		Timezone:      "browser",
		Title:         title,
		Version:       1,
	}
}

// datasourceVariable is the ${datasource} variable: any Prometheus data
// source, by default the provisioned one.
func datasourceVariable(opts Options) Variable {
	return Variable{
		Current:     map[string]any{"selected": false, "text": opts.DatasourceUID, "value": opts.DatasourceUID},
		Description: "A trainwatch agent, or a Prometheus that scrapes trainwatch agents.",
		Label:       "Data source",
		Name:        "datasource",
		Options:     []any{},
		Query:       "prometheus",
		Refresh:     1,
		Type:        "datasource",
	}
}

// queryVariable is a label_values() variable. multi variables offer "All"
// (matching every value, and series without the label).
func queryVariable(name, label, desc, query string, multi bool, sort int) Variable {
	ds := promDS()
	v := Variable{
		Current:     map[string]any{},
		Datasource:  &ds,
		Definition:  query,
		Description: desc,
		Label:       label,
		Name:        name,
		Options:     []any{},
		Query:       VariableQuery{QryType: 1, Query: query, RefID: "PrometheusVariableQueryEditor-VariableQuery"},
		Refresh:     2, // on time range change
		Sort:        sort,
		Type:        "query",
	}
	if multi {
		v.Multi, v.IncludeAll, v.AllValue = true, true, ".*"
		v.Current = map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}}
	}
	return v
}

// Variable sort orders.
const (
	sortAlphabetical = 1
	sortNumerical    = 3
)

func instanceVariable() Variable {
	return queryVariable("instance", "Instance",
		"The trainwatch agent (host:port) whose series are shown.",
		"label_values("+tickDuration+", instance)", false, sortAlphabetical)
}

// gpuDetailURL is the data link from a GPU series to the GPU dashboard.
func gpuDetailURL() string {
	return "/d/trainwatch-gpu/trainwatch-gpu?${datasource:queryparam}&${instance:queryparam}&var-gpu=${__field.labels.gpu}&${__url_time_range}"
}
