package grafana

// The subset of Grafana's dashboard JSON model (schemaVersion 39, Grafana
// 10 and 11) that the generated dashboards use. Struct fields are in
// alphabetical order, as Grafana itself exports them, and free-form parts
// (panel options, field defaults) are maps, which encoding/json writes with
// sorted keys: the output is byte-for-byte deterministic.

// SchemaVersion is the dashboard schema version written into every
// dashboard (Grafana 10.4 and 11 read it without migrating).
const SchemaVersion = 39

// Dashboard is a Grafana dashboard.
type Dashboard struct {
	Annotations          Annotations `json:"annotations"`
	Description          string      `json:"description"`
	Editable             bool        `json:"editable"`
	FiscalYearStartMonth int         `json:"fiscalYearStartMonth"`
	GraphTooltip         int         `json:"graphTooltip"`
	ID                   *int        `json:"id"`
	Links                []Link      `json:"links"`
	LiveNow              bool        `json:"liveNow"`
	Panels               []*Panel    `json:"panels"`
	Refresh              string      `json:"refresh"`
	SchemaVersion        int         `json:"schemaVersion"`
	Tags                 []string    `json:"tags"`
	Templating           Templating  `json:"templating"`
	Time                 TimeRange   `json:"time"`
	Timepicker           struct{}    `json:"timepicker"`
	Timezone             string      `json:"timezone"`
	Title                string      `json:"title"`
	UID                  string      `json:"uid"`
	Version              int         `json:"version"`
	WeekStart            string      `json:"weekStart"`
}

// Annotations holds the dashboard's annotation queries.
type Annotations struct {
	List []Annotation `json:"list"`
}

// Annotation is Grafana's built-in "Annotations & Alerts" annotation; the
// generated dashboards add no PromQL annotations.
type Annotation struct {
	BuiltIn    int           `json:"builtIn"`
	Datasource DataSourceRef `json:"datasource"`
	Enable     bool          `json:"enable"`
	Hide       bool          `json:"hide"`
	IconColor  string        `json:"iconColor"`
	Name       string        `json:"name"`
	Type       string        `json:"type"`
}

// Link is a dashboard link; the generated ones list the other trainwatch
// dashboards by tag and carry the time range and variables along.
type Link struct {
	AsDropdown  bool     `json:"asDropdown"`
	Icon        string   `json:"icon"`
	IncludeVars bool     `json:"includeVars"`
	KeepTime    bool     `json:"keepTime"`
	Tags        []string `json:"tags"`
	TargetBlank bool     `json:"targetBlank"`
	Title       string   `json:"title"`
	Tooltip     string   `json:"tooltip"`
	Type        string   `json:"type"`
	URL         string   `json:"url"`
}

// DataSourceRef names a data source; panels and targets use the
// ${datasource} template variable.
type DataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos is a panel's place on the dashboard's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Panel is a visualisation or a row.
type Panel struct {
	Collapsed       *bool            `json:"collapsed,omitempty"`
	Datasource      *DataSourceRef   `json:"datasource,omitempty"`
	Description     string           `json:"description,omitempty"`
	FieldConfig     *FieldConfig     `json:"fieldConfig,omitempty"`
	GridPos         GridPos          `json:"gridPos"`
	ID              int              `json:"id"`
	Options         map[string]any   `json:"options,omitempty"`
	Panels          []*Panel         `json:"panels,omitempty"`
	Targets         []Target         `json:"targets,omitempty"`
	Title           string           `json:"title"`
	Transformations []Transformation `json:"transformations,omitempty"`
	Type            string           `json:"type"`
}

// FieldConfig holds a panel's field defaults (unit, min, max, thresholds,
// links, the visualisation's custom options) and overrides.
type FieldConfig struct {
	Defaults  map[string]any `json:"defaults"`
	Overrides []Override     `json:"overrides"`
}

// Override changes field properties for the fields a matcher selects.
type Override struct {
	Matcher    Matcher    `json:"matcher"`
	Properties []Property `json:"properties"`
}

// Matcher selects fields, e.g. {"id": "byRegexp", "options": "tokens.*"}.
type Matcher struct {
	ID      string `json:"id"`
	Options string `json:"options"`
}

// Property is one overridden field property.
type Property struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// Target is a Prometheus query of a panel.
type Target struct {
	Datasource   DataSourceRef `json:"datasource"`
	EditorMode   string        `json:"editorMode"`
	Expr         string        `json:"expr"`
	Format       string        `json:"format"`
	Instant      bool          `json:"instant"`
	LegendFormat string        `json:"legendFormat"`
	Range        bool          `json:"range"`
	RefID        string        `json:"refId"`
}

// Transformation post-processes a panel's query results (tables).
type Transformation struct {
	ID      string         `json:"id"`
	Options map[string]any `json:"options"`
}

// Templating holds the dashboard's template variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a template variable: the data source, or a label_values()
// query.
type Variable struct {
	AllValue    string         `json:"allValue,omitempty"`
	Current     map[string]any `json:"current"`
	Datasource  *DataSourceRef `json:"datasource,omitempty"`
	Definition  string         `json:"definition,omitempty"`
	Description string         `json:"description,omitempty"`
	Hide        int            `json:"hide"`
	IncludeAll  bool           `json:"includeAll"`
	Label       string         `json:"label"`
	Multi       bool           `json:"multi"`
	Name        string         `json:"name"`
	Options     []any          `json:"options"`
	Query       any            `json:"query"`
	Refresh     int            `json:"refresh"`
	Regex       string         `json:"regex"`
	Sort        int            `json:"sort"`
	Type        string         `json:"type"`
}

// VariableQuery is the query object of a Prometheus query variable.
type VariableQuery struct {
	QryType int    `json:"qryType"`
	Query   string `json:"query"`
	RefID   string `json:"refId"`
}

// TimeRange is the dashboard's default time range.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}
