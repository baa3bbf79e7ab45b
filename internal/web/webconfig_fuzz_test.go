package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trainwatch/trainwatch/internal/web/webtest"
)

// FuzzWebConfig checks CheckWebConfig on any web configuration file
// (--web.config.file, exporter-toolkit's format), next to a real CA,
// server certificate and key: a refusal names the file and says how to
// fix it; an accepted file reads with the agent's own reader, and what
// CheckWebConfig says it turns on is what the file holds (basic auth when
// it has users, TLS when it has a certificate, client certificates only
// with TLS), with warnings of one line each.
func FuzzWebConfig(f *testing.F) {
	dir := f.TempDir()
	ca := webtest.NewCA(f)
	kp := ca.Server(f)
	other := ca.Client(f, "other")
	for name, src := range map[string]string{"server.crt": kp.CertFile, "server.key": kp.KeyFile, "ca.crt": ca.File, "other.key": other.KeyFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			f.Fatal(err)
		}
	}
	// Paths in the file are relative to its directory.
	const tlsConf = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
	hash := webtest.Bcrypt(f, "pw")
	for _, s := range []string{
		"",
		"basic_auth_users:\n  alice: " + hash + "\n",
		tlsConf,
		tlsConf + "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
		tlsConf + "  client_ca_file: ca.crt\n  client_auth_type: VerifyClientCertIfGiven\n",
		tlsConf + "  client_auth_type: RequireAnyClientCert\n",
		tlsConf + "  min_version: TLS13\n  max_version: TLS13\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\n",
		tlsConf + "basic_auth_users:\n  alice: " + hash + "\n  bob: " + hash + "\nhttp_server_config:\n  http2: false\n  headers:\n    Strict-Transport-Security: max-age=31536000\n",
		"tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n",
		"tls_server_config:\n  cert: \"-----BEGIN CERTIFICATE-----\\nx\\n-----END CERTIFICATE-----\"\n  key_file: server.key\n",
		"basic_auth_users:\n  alice: hunter2\n",
		"basic_auth_user:\n  alice: x\n",
		"tls_server_config: [\n",
		"http_server_config:\n  headers:\n    X-Powered-By: me\n",
		"rate_limit:\n  interval: 1s\n  burst: 10\n",
		"tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(dir, "web.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, special := range []string{"/dev", "/proc", "/sys"} {
			if strings.Contains(string(data), special) {
				return // a file that names a device could make a read never end
			}
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := CheckWebConfig(path)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "web configuration file "+path+": ") ||
				!(strings.Contains(msg, "docs/security.md") || strings.Contains(msg, "check the path")) {
				t.Fatalf("error does not name the file or say how to fix it: %q", msg)
			}
			if got.TLS || got.BasicAuth || got.ClientCerts || got.Warnings != nil {
				t.Fatalf("settings %+v with an error", got)
			}
			return
		}
		c, err := loadWebConfig(path)
		if err != nil {
			t.Fatalf("accepted, but the agent's reader refuses it: %v", err)
		}
		if got.BasicAuth != (len(c.Users) > 0) || got.TLS != c.TLSConfig.IsEnabled() || (got.ClientCerts && !got.TLS) {
			t.Fatalf("settings %+v for %d users, TLS %v", got, len(c.Users), c.TLSConfig.IsEnabled())
		}
		if got.Authenticated() != (got.BasicAuth || got.ClientCerts) {
			t.Fatalf("Authenticated %v for %+v", got.Authenticated(), got)
		}
		for _, w := range got.Warnings {
			if w == "" || strings.Contains(w, "\n") {
				t.Fatalf("warning %q", w)
			}
		}
	})
}
