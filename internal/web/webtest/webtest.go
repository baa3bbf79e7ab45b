// Package webtest helps tests of the agent's HTTP security: certificates
// made on the spot, bcrypt hashes, web configuration files, and clients
// that reach a loopback server from a non-loopback source address.
package webtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the CA certificate as a PEM file.
	File string
	dir  string
	n    int64
}

// NewCA makes a CA whose files live in a test directory.
func NewCA(tb testing.TB) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "trainwatch test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{Cert: cert, key: key, dir: tb.TempDir(), n: 1}
	ca.File = writePEM(tb, filepath.Join(ca.dir, "ca.crt"), "CERTIFICATE", der)
	return ca
}

// Pool is a certificate pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// KeyPair is an issued certificate and its key, in memory and as PEM files.
type KeyPair struct {
	TLS      tls.Certificate
	CertFile string
	KeyFile  string
}

// Server issues a server certificate for 127.0.0.1, ::1 and localhost.
func (ca *CA) Server(tb testing.TB) KeyPair {
	tb.Helper()
	return ca.issue(tb, "server", x509.ExtKeyUsageServerAuth, func(t *x509.Certificate) {
		t.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback}
		t.DNSNames = []string{"localhost"}
	})
}

// Client issues a client certificate with the given common name.
func (ca *CA) Client(tb testing.TB, name string) KeyPair {
	tb.Helper()
	return ca.issue(tb, name, x509.ExtKeyUsageClientAuth, func(t *x509.Certificate) { t.DNSNames = []string{name} })
}

func (ca *CA) issue(tb testing.TB, name string, usage x509.ExtKeyUsage, edit func(*x509.Certificate)) KeyPair {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ca.n++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.n),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	kp := KeyPair{
		CertFile: writePEM(tb, filepath.Join(ca.dir, name+".crt"), "CERTIFICATE", der),
		KeyFile:  writePEM(tb, filepath.Join(ca.dir, name+".key"), "EC PRIVATE KEY", kder),
	}
	kp.TLS, err = tls.LoadX509KeyPair(kp.CertFile, kp.KeyFile)
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

func writePEM(tb testing.TB, path, typ string, der []byte) string {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Bcrypt hashes a password as basic_auth_users wants it (cost 4, the
// least, to keep tests fast; use 10 or more in production).
func Bcrypt(tb testing.TB, password string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	return string(h)
}

// WriteFile writes a web configuration file into a test directory and
// returns its path.
func WriteFile(tb testing.TB, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "web-config.yml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// NonLoopbackIP returns an IPv4 address of one of this machine's up,
// non-loopback interfaces, or skips the test when there is none.
func NonLoopbackIP(tb testing.TB) net.IP {
	tb.Helper()
	ip, ok := FindNonLoopbackIP()
	if !ok {
		tb.Skip("this machine has no non-loopback IPv4 address to send from")
	}
	return ip
}

// FindNonLoopbackIP returns an IPv4 address of one of this machine's up,
// non-loopback interfaces, if it has one.
func FindNonLoopbackIP() (net.IP, bool) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, false
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				return ipn.IP.To4(), true
			}
		}
	}
	return nil, false
}

// RemoteTransport returns a transport whose connections to a server on
// 127.0.0.1 leave from this machine's non-loopback address ip: the
// traffic stays on the machine (the destination is loopback), and the
// server sees a client that is not loopback. It skips the test when the
// system refuses such a connection.
func RemoteTransport(tb testing.TB, ip net.IP, tlsConfig *tls.Config) *http.Transport {
	tb.Helper()
	tr, err := TryRemoteTransport(ip, tlsConfig)
	if err != nil {
		tb.Skip(err.Error())
	}
	return tr
}

// TryRemoteTransport is RemoteTransport that returns an error instead of
// skipping.
func TryRemoteTransport(ip net.IP, tlsConfig *tls.Config) (*http.Transport, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	defer ln.Close()
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("cannot reach 127.0.0.1 from source address %s: %w", ip, err)
	}
	c.Close()
	return &http.Transport{DialContext: d.DialContext, TLSClientConfig: tlsConfig, DisableKeepAlives: true}, nil
}
