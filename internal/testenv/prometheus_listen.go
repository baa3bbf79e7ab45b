package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// StartPrometheusListening is StartPrometheusWith for clients that are not
// on this machine's loopback (agents in network namespaces, reaching it
// over veth pairs): Prometheus listens on host, an address of this machine
// or "0.0.0.0" for every interface, on a port free there. URL is
// http://127.0.0.1:PORT for an unspecified host, else http://host:PORT.
// Stop and Start restart it on the same address, port and data directory.
func StartPrometheusListening(t testing.TB, o PrometheusOptions, host string) *Prometheus {
	t.Helper()
	bin := LookPath(t, "prometheus")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(o.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	data := o.DataDir
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	urlHost := host
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		urlHost = "127.0.0.1"
	}
	p := &Prometheus{
		URL: "http://" + net.JoinHostPort(urlHost, strconv.Itoa(port)),
		t:   t,
		bin: bin,
		args: append([]string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + data,
			"--web.listen-address=" + net.JoinHostPort(host, strconv.Itoa(port)),
			"--log.level=warn",
		}, o.Flags...),
		log: filepath.Join(dir, "prometheus.log"),
	}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// Port returns the TCP port Prometheus listens on.
func (p *Prometheus) Port() int {
	u, err := url.Parse(p.URL)
	if err != nil {
		panic(fmt.Sprintf("testenv: Prometheus URL %q: %v", p.URL, err))
	}
	n, err := strconv.Atoi(u.Port())
	if err != nil {
		panic(fmt.Sprintf("testenv: Prometheus URL %q: %v", p.URL, err))
	}
	return n
}
