package system

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/trainwatch/trainwatch/internal/collector"
	"github.com/trainwatch/trainwatch/internal/hostfs"
)

// parseOSRelease parses an os-release(5) file: KEY=value lines, values
// optionally in double or single quotes, shell escapes inside double
// quotes, comments and blank lines ignored.
func parseOSRelease(file string, b []byte) (map[string]string, error) {
	out := make(map[string]string)
	l := hostfs.NewLines(file, b)
	for l.Next() {
		line := bytes.TrimSpace(l.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		line = bytes.TrimPrefix(line, []byte("export "))
		eq := bytes.IndexByte(line, '=')
		if eq < 0 {
			return nil, l.Errorf("expected KEY=value")
		}
		key := line[:eq]
		if !validKey(key) {
			return nil, l.Errorf("%q is not a valid variable name", key)
		}
		val, err := osReleaseValue(l, line[eq+1:])
		if err != nil {
			return nil, err
		}
		out[string(key)] = val
	}
	return out, nil
}

func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for i, c := range k {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// osReleaseValue unquotes the value part of a line.
func osReleaseValue(l *hostfs.Lines, v []byte) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	switch v[0] {
	case '\'':
		end := bytes.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", l.Errorf("unterminated single-quoted value")
		}
		return string(v[1 : 1+end]), nil
	case '"':
		var s []byte
		for i := 1; i < len(v); i++ {
			switch c := v[i]; c {
			case '\\':
				if i+1 < len(v) && bytes.IndexByte([]byte("$\"\\`"), v[i+1]) >= 0 {
					i++
					c = v[i]
				}
				s = append(s, c)
			case '"':
				return string(s), nil
			default:
				s = append(s, c)
			}
		}
		return "", l.Errorf("unterminated double-quoted value")
	}
	if i := bytes.Index(v, []byte(" #")); i >= 0 {
		v = v[:i]
	}
	return string(bytes.TrimSpace(v)), nil
}

// osVersionRE is node_exporter's: the major.minor prefix of VERSION_ID.
var osVersionRE = regexp.MustCompile(`^[0-9]+\.?[0-9]*`)

// osInfoKeys are node_os_info's labels, in order, and the os-release keys
// they come from.
var osInfoKeys = [...]struct{ label, key string }{
	{"build_id", "BUILD_ID"}, {"id", "ID"}, {"id_like", "ID_LIKE"}, {"image_id", "IMAGE_ID"},
	{"image_version", "IMAGE_VERSION"}, {"name", "NAME"}, {"pretty_name", "PRETTY_NAME"},
	{"variant", "VARIANT"}, {"variant_id", "VARIANT_ID"}, {"version", "VERSION"},
	{"version_codename", "VERSION_CODENAME"}, {"version_id", "VERSION_ID"},
}

// osReleaseCollector is node_exporter's os collector: the distribution's
// identity from /etc/os-release (or /usr/lib/os-release) under the root
// filesystem.
type osReleaseCollector struct {
	roots hostfs.Roots
	paths [2]string

	infoDesc, versionDesc, supportEndDesc *collector.Desc

	// What was derived from the file; made again only when it changes.
	raw           []byte
	rawPath       string
	infoLabels    []string
	versionLabels []string
	version       float64
	supportEnd    float64
	hasSupportEnd bool
	buf           []byte
}

func newOSRelease(roots hostfs.Roots) *osReleaseCollector {
	labels := make([]string, len(osInfoKeys))
	for i, k := range osInfoKeys {
		labels[i] = k.label
	}
	return &osReleaseCollector{
		roots: roots,
		paths: [2]string{roots.RootPath("/etc/os-release"), roots.RootPath("/usr/lib/os-release")},
		infoDesc: collector.NewDesc("node_os_info",
			"A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, "+
				"name, pretty_name, variant, variant_id, version, version_codename, version_id.",
			collector.Gauge, labels...),
		versionDesc: collector.NewDesc("node_os_version",
			"Metric containing the major.minor part of the OS version.", collector.Gauge, "id", "id_like", "name"),
		supportEndDesc: collector.NewDesc("node_os_support_end_timestamp_seconds",
			"Metric containing the end-of-life date timestamp of the OS.", collector.Gauge),
	}
}

func (c *osReleaseCollector) Name() string { return "os" }

func (c *osReleaseCollector) Collect(_ context.Context, e *collector.Emitter) error {
	var (
		b    []byte
		err  error
		path string
	)
	for _, path = range c.paths {
		b, err = c.roots.ReadFile(path, c.buf)
		c.buf = b
		if err == nil || !hostfs.IsNotExist(err) {
			break
		}
	}
	if err != nil {
		if hostfs.IsNotExist(err) {
			return fmt.Errorf("neither %s nor %s exists: %w", c.paths[0], c.paths[1], collector.ErrNoData)
		}
		return fmt.Errorf("read os-release: %w", err)
	}
	if c.infoLabels == nil || path != c.rawPath || !bytes.Equal(b, c.raw) {
		if err := c.derive(path, b); err != nil {
			return err
		}
	}
	e.Emit(c.infoDesc, 1, c.infoLabels...)
	if c.version > 0 {
		e.Emit(c.versionDesc, c.version, c.versionLabels...)
	}
	if c.hasSupportEnd {
		e.Emit(c.supportEndDesc, c.supportEnd)
	}
	return nil
}

// derive computes the series from a new os-release content.
func (c *osReleaseCollector) derive(path string, b []byte) error {
	kv, err := parseOSRelease(path, b)
	if err != nil {
		return err
	}
	info := make([]string, len(osInfoKeys))
	for i, k := range osInfoKeys {
		info[i] = kv[k.key]
	}
	version := 0.0
	if mm := osVersionRE.FindString(kv["VERSION_ID"]); mm != "" {
		version, err = strconv.ParseFloat(mm, 64)
		if err != nil {
			return fmt.Errorf("%s: VERSION_ID %q: %w", path, kv["VERSION_ID"], err)
		}
	}
	var end float64
	hasEnd := false
	if s := kv["SUPPORT_END"]; s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return fmt.Errorf("%s: SUPPORT_END %q is not a YYYY-MM-DD date: %w", path, s, err)
		}
		end, hasEnd = float64(t.Unix()), true
	}
	c.infoLabels = info
	c.versionLabels = []string{kv["ID"], kv["ID_LIKE"], kv["NAME"]}
	c.version, c.supportEnd, c.hasSupportEnd = version, end, hasEnd
	c.raw = append(c.raw[:0], b...)
	c.rawPath = path
	return nil
}
