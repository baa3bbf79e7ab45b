package web

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	toolkit "github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// Settings says what a web configuration file turns on.
type Settings struct {
	// TLS: the agent serves HTTPS.
	TLS bool
	// BasicAuth: basic_auth_users is not empty; every request must
	// authenticate.
	BasicAuth bool
	// ClientCerts: client certificates are verified against client_ca_file
	// (client_auth_type RequireAndVerifyClientCert or
	// VerifyClientCertIfGiven); a verified certificate authenticates.
	ClientCerts bool
	// Warnings are weaknesses worth a log line at start-up.
	Warnings []string
}

// Authenticated reports whether the file configures authentication: basic
// auth users, or client certificates verified against a CA.
func (c Settings) Authenticated() bool { return c.BasicAuth || c.ClientCerts }

// CheckWebConfig validates a web configuration file as exporter-toolkit
// does at start-up (YAML keys, bcrypt hashes, certificate and key files,
// client CA, TLS versions, ciphers, headers) and says what it turns on.
// Its error says what was wrong and how to fix it.
func CheckWebConfig(path string) (Settings, error) {
	if err := toolkit.Validate(path); err != nil {
		return Settings{}, fmt.Errorf("web configuration file %s: %w; %s", path, err, hintFor(err))
	}
	c, err := loadWebConfig(path)
	if err != nil {
		return Settings{}, fmt.Errorf("web configuration file %s: %w; %s", path, err, hintFor(err))
	}
	out := Settings{TLS: c.TLSConfig.IsEnabled(), BasicAuth: len(c.Users) > 0}
	switch c.TLSConfig.ClientAuth {
	case "RequireAndVerifyClientCert", "VerifyClientCertIfGiven":
		out.ClientCerts = out.TLS
	case "RequestClientCert", "RequireAnyClientCert", "RequireClientCert":
		out.Warnings = append(out.Warnings, "client_auth_type "+c.TLSConfig.ClientAuth+
			" does not verify client certificates, so they do not authenticate writes; use RequireAndVerifyClientCert with a client_ca_file")
	}
	if out.BasicAuth && !out.TLS {
		out.Warnings = append(out.Warnings, "basic_auth_users without tls_server_config: passwords cross the network in clear text; configure TLS as well")
	}
	return out, nil
}

// hintFor says how to fix a web configuration error.
func hintFor(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "bcrypt"):
		return `every basic_auth_users value must be a bcrypt hash of the password, e.g. from: htpasswd -nBC 10 "" | tr -d ':\n' (see docs/security.md)`
	case errors.Is(err, os.ErrNotExist) || strings.Contains(msg, "no such file"):
		return "check the path (certificate and key paths are relative to the web configuration file's directory)"
	case strings.Contains(msg, "yaml") || strings.Contains(msg, "not found in type"):
		return "the keys are exporter-toolkit's: tls_server_config, http_server_config, basic_auth_users, rate_limit (see docs/security.md)"
	case strings.Contains(msg, "X509KeyPair") || strings.Contains(msg, "cert") || strings.Contains(msg, "key"):
		return "tls_server_config needs cert_file and key_file of one PEM certificate and its private key (see docs/security.md)"
	}
	return "see docs/security.md for the format"
}

// loadWebConfig parses a web configuration file into exporter-toolkit's
// own type, with the YAML decoder and strictness exporter-toolkit uses.
func loadWebConfig(path string) (*toolkit.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	c := &toolkit.Config{}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return c, nil
}

// writeRefusal says why a write request is refused, or "" when it may
// proceed. Loopback clients may write unless a browser page of another
// origin sends the request (a DNS-rebinding page says Origin: its own
// site); other clients only when they authenticated: with a client
// certificate verified against the configured CA, or with basic auth
// (which exporter-toolkit has checked before the request gets here, on
// every endpoint, whenever the web configuration file has users).
func (s *Server) writeRefusal(r *http.Request) string {
	if loopbackClient(r.RemoteAddr) {
		if o := r.Header.Get("Origin"); o != "" && !loopbackOrigin(o) {
			return fmt.Sprintf("writes from a web page are accepted only from pages on this machine (Origin %q is not loopback); send the request from a program, not a browser page", o)
		}
		return ""
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return ""
	}
	if s.opts.WebConfigFile != "" {
		if c, err := loadWebConfig(s.opts.WebConfigFile); err == nil && len(c.Users) > 0 {
			return ""
		}
	}
	return "writes are accepted only from this machine (loopback) until authentication is configured; " +
		"push from the training host itself or through an SSH tunnel, or configure basic_auth_users or verified client certificates " +
		"in the web configuration file (--web.config.file, see docs/security.md)"
}

// loopbackClient reports whether a request's remote address is loopback.
func loopbackClient(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackOrigin reports whether an Origin header names a page served from
// this machine: localhost or a loopback address.
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
