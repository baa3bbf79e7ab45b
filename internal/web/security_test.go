package web

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trainwatch/trainwatch/internal/web/webtest"
)

// okRoute answers 204 after reading the whole body (413 when the body
// limit stops it).
var okRoute = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
})

// testServer is a Server with one write route (/w), one read route (/r)
// and one route that bounds its body itself (/own).
func testServer(o Options) *Server {
	o.Routes = append(o.Routes,
		Route{Pattern: "/w", Handler: okRoute, Writes: true},
		Route{Pattern: "/r", Handler: okRoute},
		Route{Pattern: "/own", Handler: okRoute, MaxBodyBytes: OwnBodyLimit},
	)
	return New(fixedSource{}, o)
}

// serveReal serves s on a loopback port through (*Server).Serve, as the
// agent does, and returns the listener's address.
func serveReal(t *testing.T, s *Server, o ServeOptions) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o.WebConfigFile = s.opts.WebConfigFile
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	go func() { done <- Serve(ctx, ln, s, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func do(t *testing.T, c *http.Client, method, url string, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestWriteRefusal: who may write, by remote address, Origin, verified
// client certificate and configured basic auth users.
func TestWriteRefusal(t *testing.T) {
	withUsers := webtest.WriteFile(t, "basic_auth_users:\n  alice: "+webtest.Bcrypt(t, "pw")+"\n")
	noUsers := webtest.WriteFile(t, "http_server_config:\n  http2: false\n")
	verified := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
	unverified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{}}}
	for _, c := range []struct {
		name, remote, origin, webConfig string
		tls                             *tls.ConnectionState
		code                            int
		says                            string
	}{
		{"loopback v4", "127.0.0.1:5555", "", "", nil, http.StatusNoContent, ""},
		{"loopback v6", "[::1]:5555", "", "", nil, http.StatusNoContent, ""},
		{"loopback 127/8", "127.0.0.2:5555", "", "", nil, http.StatusNoContent, ""},
		{"loopback, page on localhost", "127.0.0.1:5555", "http://localhost:9835", "", nil, http.StatusNoContent, ""},
		{"loopback, page of another site (DNS rebinding)", "127.0.0.1:5555", "http://evil.example:9835", "", nil, http.StatusForbidden, "not loopback"},
		{"loopback, opaque origin", "127.0.0.1:5555", "null", "", nil, http.StatusForbidden, "not loopback"},
		{"remote v4", "192.0.2.7:5555", "", "", nil, http.StatusForbidden, "until authentication is configured"},
		{"remote v6", "[2001:db8::1]:5555", "", "", nil, http.StatusForbidden, "until authentication is configured"},
		{"unparsable address", "garbage", "", "", nil, http.StatusForbidden, "until authentication is configured"},
		{"remote, config without users", "192.0.2.7:5555", "", noUsers, nil, http.StatusForbidden, "until authentication is configured"},
		{"remote, basic auth configured", "192.0.2.7:5555", "", withUsers, nil, http.StatusNoContent, ""},
		{"remote, verified client certificate", "192.0.2.7:5555", "", "", verified, http.StatusNoContent, ""},
		{"remote, unverified client certificate", "192.0.2.7:5555", "", "", unverified, http.StatusForbidden, "until authentication is configured"},
		{"remote, config file gone", "192.0.2.7:5555", "", "/nonexistent/web.yml", nil, http.StatusForbidden, "until authentication is configured"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := testServer(Options{WebConfigFile: c.webConfig})
			for _, path := range []string{"/w", "/r"} {
				req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("x"))
				req.RemoteAddr = c.remote
				req.TLS = c.tls
				if c.origin != "" {
					req.Header.Set("Origin", c.origin)
					req.Header.Set("Sec-Fetch-Site", "same-origin")
				}
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, req)
				want := c.code
				if path == "/r" {
					want = http.StatusNoContent // reads answer everyone
				}
				if rec.Code != want {
					t.Errorf("%s: %d, want %d (%s)", path, rec.Code, want, rec.Body)
				}
				if path == "/w" && !strings.Contains(rec.Body.String(), c.says) {
					t.Errorf("%s: body %q does not say %q", path, rec.Body, c.says)
				}
			}
		})
	}
}

// TestRemoteClient sends requests from this machine's non-loopback
// address to a server on 127.0.0.1: writes are refused until
// authentication is configured, and accepted from authenticated clients.
func TestRemoteClient(t *testing.T) {
	ip := webtest.NonLoopbackIP(t)
	ca := webtest.NewCA(t)
	srvCert := ca.Server(t)
	client := ca.Client(t, "trainer")
	other := webtest.NewCA(t).Client(t, "stranger")
	hash := webtest.Bcrypt(t, "s3cret")
	mtls := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n  client_ca_file: %s\n  client_auth_type: VerifyClientCertIfGiven\n",
		srvCert.CertFile, srvCert.KeyFile, ca.File)
	for _, c := range []struct {
		name, webConfig string
		https           bool
		cert            *tls.Certificate
		user, pass      string
		readCode        int
		writeCode       int
	}{
		{"no configuration", "", false, nil, "", "", 204, 403},
		{"basic auth, no credentials", "basic_auth_users:\n  alice: " + hash + "\n", false, nil, "", "", 401, 401},
		{"basic auth, wrong password", "basic_auth_users:\n  alice: " + hash + "\n", false, nil, "alice", "nope", 401, 401},
		{"basic auth, good credentials", "basic_auth_users:\n  alice: " + hash + "\n", false, nil, "alice", "s3cret", 204, 204},
		{"TLS, no client certificate", mtls, true, nil, "", "", 204, 403},
		{"TLS, verified client certificate", mtls, true, &client.TLS, "", "", 204, 204},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{}
			if c.webConfig != "" {
				o.WebConfigFile = webtest.WriteFile(t, c.webConfig)
			}
			addr := serveReal(t, testServer(o), ServeOptions{})
			tc := &tls.Config{RootCAs: ca.Pool()}
			if c.cert != nil {
				tc.Certificates = []tls.Certificate{*c.cert}
			}
			hc := &http.Client{Transport: webtest.RemoteTransport(t, ip, tc)}
			base := "http://" + addr
			if c.https {
				base = "https://" + addr
			}
			auth := map[string]string{}
			if c.user != "" {
				auth["Authorization"] = "Basic " + basic(c.user, c.pass)
			}
			if resp, body := do(t, hc, http.MethodGet, base+"/r", "", auth); resp.StatusCode != c.readCode {
				t.Errorf("read: %d, want %d (%s)", resp.StatusCode, c.readCode, body)
			}
			resp, body := do(t, hc, http.MethodPost, base+"/w", "x", auth)
			if resp.StatusCode != c.writeCode {
				t.Errorf("write: %d, want %d (%s)", resp.StatusCode, c.writeCode, body)
			}
			if c.writeCode == 403 && !strings.Contains(body, "until authentication is configured") {
				t.Errorf("403 body %q does not say why", body)
			}
		})
	}
	t.Run("TLS, certificate of another CA", func(t *testing.T) {
		addr := serveReal(t, testServer(Options{WebConfigFile: webtest.WriteFile(t, mtls)}), ServeOptions{})
		tc := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{other.TLS}}
		hc := &http.Client{Transport: webtest.RemoteTransport(t, ip, tc)}
		req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/w", strings.NewReader("x"))
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a certificate of an unknown CA was accepted: %d", resp.StatusCode)
		}
	})
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestTLS serves HTTPS from a web configuration file: a client that trusts
// the CA gets answers, one that does not fails the handshake, plain HTTP
// gets 400, min_version is applied, and a change of the file (basic auth
// added) applies to the next request without a restart.
func TestTLS(t *testing.T) {
	ca := webtest.NewCA(t)
	kp := ca.Server(t)
	conf := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n  min_version: TLS13\n", kp.CertFile, kp.KeyFile)
	path := webtest.WriteFile(t, conf)
	addr := serveReal(t, testServer(Options{WebConfigFile: path}), ServeOptions{})
	good := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	resp, body := do(t, good, http.MethodGet, "https://"+addr+"/-/healthy", "", nil)
	if resp.StatusCode != 200 || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("HTTPS /-/healthy: %d %q %+v", resp.StatusCode, body, resp.TLS)
	}
	if _, err := http.Get("https://" + addr + "/-/healthy"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the CA: %v, want a certificate error", err)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS12}}}
	if _, err := old.Get("https://" + addr + "/-/healthy"); err == nil {
		t.Error("a TLS 1.2 client was accepted with min_version: TLS13")
	}
	resp, _ = do(t, http.DefaultClient, http.MethodGet, "http://"+addr+"/-/healthy", "", nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS port: %d, want 400", resp.StatusCode)
	}
	// The file is re-read: basic auth added now applies at once.
	if err := os.WriteFile(path, []byte(conf+"basic_auth_users:\n  alice: "+webtest.Bcrypt(t, "pw")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, good, http.MethodGet, "https://"+addr+"/r", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after adding basic_auth_users: %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, good, http.MethodGet, "https://"+addr+"/r", "", map[string]string{"Authorization": "Basic " + basic("alice", "pw")}); resp.StatusCode != http.StatusNoContent {
		t.Errorf("after adding basic_auth_users, with credentials: %d, want 204", resp.StatusCode)
	}
}

// TestBasicAuth: with users configured, every endpoint (health included)
// needs them, as in node_exporter and Prometheus.
func TestBasicAuth(t *testing.T) {
	path := webtest.WriteFile(t, "basic_auth_users:\n  alice: "+webtest.Bcrypt(t, "pw")+"\n")
	addr := serveReal(t, testServer(Options{WebConfigFile: path}), ServeOptions{})
	for _, c := range []struct {
		name, auth string
		code       int
	}{
		{"good", basic("alice", "pw"), 200},
		{"wrong password", basic("alice", "x"), 401},
		{"unknown user", basic("bob", "pw"), 401},
		{"missing", "", 401},
		{"malformed", "!!!", 401},
	} {
		for _, path := range []string{"/-/healthy", "/-/ready", "/metrics", "/api/v1/snapshot", "/r"} {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = "Basic " + c.auth
			}
			resp, body := do(t, http.DefaultClient, http.MethodGet, "http://"+addr+path, "", h)
			want := c.code
			if want == 200 && path != "/-/healthy" {
				want = resp.StatusCode // the fixed source is not ready; only auth matters here
				if want == 401 {
					t.Errorf("%s %s: 401 with good credentials", c.name, path)
				}
			}
			if resp.StatusCode != want {
				t.Errorf("%s %s: %d, want %d (%s)", c.name, path, resp.StatusCode, want, body)
			}
			if want == 401 && resp.Header.Get("WWW-Authenticate") != "Basic" {
				t.Errorf("%s %s: WWW-Authenticate %q", c.name, path, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// TestCheckWebConfig: bad files are refused with what was wrong and how to
// fix it; good ones say what they turn on.
func TestCheckWebConfig(t *testing.T) {
	ca := webtest.NewCA(t)
	kp := ca.Server(t)
	tlsConf := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", kp.CertFile, kp.KeyFile)
	for _, c := range []struct {
		name, content string
		err           []string
		want          Settings
	}{
		{"empty", "", nil, Settings{}},
		{"basic auth only", "basic_auth_users:\n  alice: " + webtest.Bcrypt(t, "pw") + "\n", nil,
			Settings{BasicAuth: true, Warnings: []string{"basic_auth_users without tls_server_config: passwords cross the network in clear text; configure TLS as well"}}},
		{"tls", tlsConf, nil, Settings{TLS: true}},
		{"mtls", tlsConf + "  client_ca_file: " + ca.File + "\n  client_auth_type: RequireAndVerifyClientCert\n", nil, Settings{TLS: true, ClientCerts: true}},
		{"unverified client certs", tlsConf + "  client_auth_type: RequireAnyClientCert\n", nil, Settings{TLS: true, Warnings: []string{
			"client_auth_type RequireAnyClientCert does not verify client certificates, so they do not authenticate writes; use RequireAndVerifyClientCert with a client_ca_file"}}},
		{"password not hashed", "basic_auth_users:\n  alice: hunter2\n", []string{"bcrypt", "htpasswd -nBC 10"}, Settings{}},
		{"unknown key", "basic_auth_user:\n  alice: x\n", []string{"basic_auth_user", "the keys are exporter-toolkit's"}, Settings{}},
		{"not yaml", "tls_server_config: [\n", []string{"yaml", "the keys are"}, Settings{}},
		{"missing key file", "tls_server_config:\n  cert_file: " + kp.CertFile + "\n", []string{"missing one of key or key_file"}, Settings{}},
		{"cert file not found", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", []string{"nope.crt", "check the path"}, Settings{}},
		{"key of another certificate", fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", kp.CertFile, ca.Client(t, "x").KeyFile), []string{"X509KeyPair", "cert_file and key_file"}, Settings{}},
		{"bad min_version", tlsConf + "  min_version: TLS9\n", []string{"unknown TLS version: TLS9"}, Settings{}},
		{"bad client auth", tlsConf + "  client_auth_type: Maybe\n", []string{"invalid ClientAuth: Maybe"}, Settings{}},
		{"client CA without policy", tlsConf + "  client_ca_file: " + ca.File + "\n", []string{"client CA's have been configured without a Client Auth Policy"}, Settings{}},
		{"bad header", "http_server_config:\n  headers:\n    X-Powered-By: me\n", []string{`"X-Powered-By" can not be configured`}, Settings{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := webtest.WriteFile(t, c.content)
			got, err := CheckWebConfig(path)
			if c.err != nil {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				for _, w := range append(c.err, path) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	if _, err := CheckWebConfig("/nonexistent/web.yml"); err == nil || !strings.Contains(err.Error(), "check the path") {
		t.Errorf("missing file: %v", err)
	}
}

// TestInFlightLimit: past MaxRequestsInFlight requests are refused with
// 429 and Retry-After; the health endpoints and event streams are not
// counted.
func TestInFlightLimit(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	block := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		started.Done()
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	s := New(fixedSource{}, Options{MaxRequestsInFlight: 2, Routes: []Route{
		{Pattern: "/block", Handler: block},
		{Pattern: "/r", Handler: okRoute},
		{Pattern: "GET /api/ui/events", Handler: okRoute},
	}})
	addr := serveReal(t, s, ServeOptions{})
	base := "http://" + addr
	var wg sync.WaitGroup
	started.Add(2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/block")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	started.Wait()
	resp, body := do(t, http.DefaultClient, http.MethodGet, base+"/r", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(body, "web.max_requests_in_flight") {
		t.Errorf("third request: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	for _, p := range []string{"/-/healthy", "/-/ready", "/api/ui/events"} {
		if resp, _ := do(t, http.DefaultClient, http.MethodGet, base+p, "", nil); resp.StatusCode == http.StatusTooManyRequests {
			t.Errorf("%s counted against the limit: 429", p)
		}
	}
	close(release)
	wg.Wait()
	if resp, _ := do(t, http.DefaultClient, http.MethodGet, base+"/r", "", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("after the others finished: %d", resp.StatusCode)
	}
}

// TestBodyLimit: a declared body past the limit gets 413 before the
// handler runs; an undeclared (chunked) one stops at the limit; routes
// that bound their bodies themselves are left alone.
func TestBodyLimit(t *testing.T) {
	s := testServer(Options{MaxBodyBytes: 1000})
	addr := serveReal(t, s, ServeOptions{})
	big := strings.Repeat("x", 2000)
	for _, c := range []struct {
		name, path, body string
		chunked          bool
		code             int
	}{
		{"within the limit", "/r", big[:1000], false, 204},
		{"declared, past the limit", "/r", big, false, 413},
		{"chunked, past the limit", "/r", big, true, 413},
		{"write route, past the limit", "/w", big, false, 413},
		{"own limit", "/own", big, false, 204},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rd io.Reader = strings.NewReader(c.body)
			if c.chunked {
				rd = io.MultiReader(rd) // unknown length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+c.path, rd)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%d, want %d (%s)", resp.StatusCode, c.code, b)
			}
			if c.code == 413 && !c.chunked && !strings.Contains(string(b), "accepts at most 1000 (web.max_body_bytes)") {
				t.Errorf("413 body %q", b)
			}
		})
	}
}

// TestNoCORS: no answer carries Access-Control-* headers, even from a
// handler that would add them for a request with an Origin (as
// Prometheus' API does).
func TestNoCORS(t *testing.T) {
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := New(fixedSource{}, Options{API: cors, Routes: []Route{{Pattern: "/w", Handler: cors, Writes: true}}})
	addr := serveReal(t, s, ServeOptions{})
	for _, method := range []string{http.MethodGet, http.MethodOptions, http.MethodPost} {
		for _, path := range []string{"/api/v1/query", "/metrics", "/-/healthy", "/w"} {
			resp, _ := do(t, http.DefaultClient, method, "http://"+addr+path, "", map[string]string{
				"Origin": "http://" + addr, "Access-Control-Request-Method": "POST"})
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s %s: %s: %s", method, path, k, resp.Header.Get(k))
				}
			}
		}
	}
}

// TestCrossOriginWrites: a browser page of another site cannot make the
// agent change state, even though the browser runs on this machine.
func TestCrossOriginWrites(t *testing.T) {
	addr := serveReal(t, testServer(Options{}), ServeOptions{})
	for _, c := range []struct {
		name   string
		method string
		header map[string]string
		code   int
	}{
		{"program (no browser headers)", "POST", nil, 204},
		{"same-origin page", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + addr}, 204},
		{"cross-site page", "POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 403},
		{"cross-site page, old browser", "POST", map[string]string{"Origin": "http://evil.example"}, 403},
		{"DNS rebinding page", "POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example:80", "Host": "evil.example:80"}, 403},
		{"cross-site page, read", "GET", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, 204},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/w"
			if c.method == http.MethodGet {
				path = "/r"
			}
			resp, body := do(t, http.DefaultClient, c.method, "http://"+addr+path, "x", c.header)
			if resp.StatusCode != c.code {
				t.Errorf("%d, want %d (%s)", resp.StatusCode, c.code, body)
			}
		})
	}
}

// TestSecurityHeaders: every answer says nosniff and DENY for framing,
// unless the web configuration file chose its own value.
func TestSecurityHeaders(t *testing.T) {
	for _, c := range []struct {
		name, webConfig, frame string
	}{
		{"defaults", "", "DENY"},
		{"configured", "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n", "sameorigin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{}
			if c.webConfig != "" {
				o.WebConfigFile = webtest.WriteFile(t, c.webConfig)
			}
			addr := serveReal(t, testServer(o), ServeOptions{})
			for _, p := range []string{"/metrics", "/-/healthy", "/api/v1/snapshot", "/", "/nope", "/w", "/r"} {
				resp, _ := do(t, http.DefaultClient, http.MethodGet, "http://"+addr+p, "", nil)
				if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", p, got)
				}
				if got := resp.Header.Get("X-Frame-Options"); got != c.frame {
					t.Errorf("%s: X-Frame-Options %q, want %q", p, got, c.frame)
				}
			}
		})
	}
}

// TestStreamsOutliveReadTimeout: the server's read timeout bounds reading
// a request, never a long answer such as the dashboard's event stream,
// over HTTP/1.1 and over HTTP/2 (TLS).
func TestStreamsOutliveReadTimeout(t *testing.T) {
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 8 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			_ = http.NewResponseController(w).Flush()
			select {
			case <-time.After(150 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	ca := webtest.NewCA(t)
	kp := ca.Server(t)
	for _, c := range []struct {
		name, webConfig, scheme string
		proto                   int
	}{
		{"HTTP/1.1", "", "http", 1},
		{"HTTP/2 over TLS", fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", kp.CertFile, kp.KeyFile), "https", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := Options{Routes: []Route{{Pattern: "GET /api/ui/events", Handler: stream}}}
			if c.webConfig != "" {
				o.WebConfigFile = webtest.WriteFile(t, c.webConfig)
			}
			// HTTP/2 gives a client a second after GOAWAY to hang up.
			addr := serveReal(t, New(fixedSource{}, o), ServeOptions{Grace: 5 * time.Second, ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			resp, err := (&http.Client{Transport: tr}).Get(c.scheme + "://" + addr + "/api/ui/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.ProtoMajor != c.proto {
				t.Errorf("protocol %s, want major %d", resp.Proto, c.proto)
			}
			n := 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					n++
				}
			}
			if n != 8 {
				t.Errorf("%d events over 1.2 s with a 300 ms read timeout, want 8 (%v)", n, sc.Err())
			}
		})
	}
}

// TestSlowHeadersCut: a client that sends its headers too slowly is cut
// off after ReadHeaderTimeout.
func TestSlowHeadersCut(t *testing.T) {
	addr := serveReal(t, testServer(Options{}), ServeOptions{ReadHeaderTimeout: 200 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /metrics HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	t0 := time.Now()
	b, _ := io.ReadAll(c)
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("connection held %s after incomplete headers", d)
	}
	if len(b) > 0 && !strings.Contains(string(b), "408") && !strings.Contains(string(b), "400") {
		t.Errorf("answer to incomplete headers: %q", b)
	}
}
