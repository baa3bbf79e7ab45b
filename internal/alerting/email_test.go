package alerting

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// smtpSink is a tiny SMTP server for the tests: EHLO, optional STARTTLS,
// AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpSink struct {
	addr       string
	tls        *tls.Config // nil: no STARTTLS offered
	mechs      []string    // AUTH mechanisms offered; none: no AUTH
	user, pass string

	mu     sync.Mutex
	mails  []sunkMail
	events []string
	wg     sync.WaitGroup
}

// sunkMail is one message the sink accepted.
type sunkMail struct {
	from     string
	to       []string
	data     []byte
	tls      bool
	authUser string
}

func startSMTPSink(t testing.TB, s *smtpSink) *smtpSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpSink) event(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *smtpSink) snapshot() ([]sunkMail, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunkMail(nil), s.mails...), append([]string(nil), s.events...)
}

func (s *smtpSink) serve(c net.Conn) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(c)
	_ = tp.PrintfLine("220 sink ESMTP ready")
	var (
		isTLS    bool
		authUser string
		from     string
		to       []string
	)
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"sink greets " + arg}
			if s.tls != nil && !isTLS {
				lines = append(lines, "STARTTLS")
			}
			if len(s.mechs) > 0 {
				lines = append(lines, "AUTH "+strings.Join(s.mechs, " "))
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				_ = tp.PrintfLine("250%s%s", sep, l)
			}
		case "STARTTLS":
			if s.tls == nil || isTLS {
				_ = tp.PrintfLine("502 5.5.1 no")
				continue
			}
			_ = tp.PrintfLine("220 2.0.0 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				s.event("TLS handshake failed: " + err.Error())
				return
			}
			c, isTLS = tc, true
			tp = textproto.NewConn(tc)
			s.event("STARTTLS")
		case "AUTH":
			fields := strings.Fields(arg)
			mech := strings.ToUpper(fields[0])
			s.event("AUTH " + mech + map[bool]string{true: " over TLS", false: " in the clear"}[isTLS])
			var user, pass string
			switch mech {
			case "PLAIN":
				resp := ""
				if len(fields) > 1 {
					resp = fields[1]
				} else {
					_ = tp.PrintfLine("334 ")
					resp, _ = tp.ReadLine()
				}
				b, _ := base64.StdEncoding.DecodeString(resp)
				parts := strings.Split(string(b), "\x00")
				if len(parts) == 3 {
					user, pass = parts[1], parts[2]
				}
			case "LOGIN":
				_ = tp.PrintfLine("334 %s", base64.StdEncoding.EncodeToString([]byte("Username:")))
				l, _ := tp.ReadLine()
				b, _ := base64.StdEncoding.DecodeString(l)
				user = string(b)
				_ = tp.PrintfLine("334 %s", base64.StdEncoding.EncodeToString([]byte("Password:")))
				l, _ = tp.ReadLine()
				b, _ = base64.StdEncoding.DecodeString(l)
				pass = string(b)
			default:
				_ = tp.PrintfLine("504 5.5.4 unknown mechanism")
				continue
			}
			if user == s.user && pass == s.pass {
				authUser = user
				_ = tp.PrintfLine("235 2.7.0 authenticated")
			} else {
				_ = tp.PrintfLine("535 5.7.8 authentication credentials invalid")
			}
		case "MAIL":
			if len(s.mechs) > 0 && authUser == "" {
				_ = tp.PrintfLine("530 5.7.0 authentication required")
				continue
			}
			from = envelopeAddr(arg, "FROM:")
			_ = tp.PrintfLine("250 2.1.0 ok")
		case "RCPT":
			to = append(to, envelopeAddr(arg, "TO:"))
			_ = tp.PrintfLine("250 2.1.5 ok")
		case "DATA":
			_ = tp.PrintfLine("354 go ahead")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.mails = append(s.mails, sunkMail{from: from, to: to, data: data, tls: isTLS, authUser: authUser})
			s.mu.Unlock()
			from, to = "", nil
			_ = tp.PrintfLine("250 2.0.0 queued")
		case "RSET":
			from, to = "", nil
			_ = tp.PrintfLine("250 2.0.0 ok")
		case "NOOP":
			_ = tp.PrintfLine("250 2.0.0 ok")
		case "QUIT":
			_ = tp.PrintfLine("221 2.0.0 bye")
			return
		default:
			_ = tp.PrintfLine("502 5.5.2 unknown command")
		}
	}
}

// envelopeAddr returns the address of "FROM:<a@b> BODY=8BITMIME".
func envelopeAddr(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	addr, _, _ := strings.Cut(arg[len(prefix):], " ")
	return strings.Trim(addr, "<>")
}

// selfSigned returns a TLS certificate for 127.0.0.1 and localhost and its
// PEM, to be trusted through ca_file.
func selfSigned(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtp sink"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// testMessage is a group with a firing and a resolved alert.
func testMessage() *message {
	now := time.Now()
	firing := mkAlert("TrainingLossNaN", "run", "a", "instance", "node1:9835", "job", "trainwatch")
	firing.Value = math.NaN()
	firing.Annotations = labels.FromStrings("summary", "training loss of a is NaN — täglich", "runbook", "https://wiki/nan")
	resolved := mkAlert("TrainingLossNaN", "run", "b", "instance", "node1:9835", "job", "trainwatch")
	resolved.EndsAt = now.Add(-time.Second)
	resolved.Value = 0.5
	return newMessage("mail", `{}:{alertname="TrainingLossNaN"}`, labels.FromStrings("alertname", "TrainingLossNaN"),
		"http://agent.example:9835", []*alert{firing, resolved}, now)
}

func TestEmail(t *testing.T) {
	cert, certPEM := selfSigned(t)
	caFile := writeFile(t, t.TempDir(), "ca.pem", string(certPEM))
	pwFile := writeFile(t, t.TempDir(), "pw", "s3cret\n")
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	no := false
	for _, tc := range []struct {
		name     string
		sink     *smtpSink
		cfg      EmailConfig
		wantErr  string // "" for delivery
		perm     bool   // the error is permanent
		wantAuth string // event expected, e.g. "AUTH PLAIN over TLS"
		noAuth   bool   // the sink must never see AUTH
	}{
		{
			name:     "STARTTLS and AUTH PLAIN",
			sink:     &smtpSink{tls: tlsCfg, mechs: []string{"PLAIN", "LOGIN"}, user: "alice", pass: "s3cret"},
			cfg:      EmailConfig{Username: "alice", Password: "s3cret", CAFile: caFile},
			wantAuth: "AUTH PLAIN over TLS",
		},
		{
			name:     "AUTH LOGIN with a password file",
			sink:     &smtpSink{tls: tlsCfg, mechs: []string{"LOGIN"}, user: "alice", pass: "s3cret"},
			cfg:      EmailConfig{Username: "alice", PasswordFile: pwFile, CAFile: caFile},
			wantAuth: "AUTH LOGIN over TLS",
		},
		{
			name:    "wrong password",
			sink:    &smtpSink{tls: tlsCfg, mechs: []string{"PLAIN"}, user: "alice", pass: "s3cret"},
			cfg:     EmailConfig{Username: "alice", Password: "nope", CAFile: caFile},
			wantErr: "AUTH: 535 ",
			perm:    true,
		},
		{
			name:    "untrusted certificate",
			sink:    &smtpSink{tls: tlsCfg},
			cfg:     EmailConfig{},
			wantErr: "STARTTLS: tls: failed to verify certificate",
		},
		{
			name:    "credentials are never sent in the clear",
			sink:    &smtpSink{mechs: []string{"PLAIN"}, user: "alice", pass: "s3cret"},
			cfg:     EmailConfig{Username: "alice", Password: "s3cret", RequireTLS: &no},
			wantErr: "refusing to send credentials over an unencrypted connection",
			perm:    true,
			noAuth:  true,
		},
		{
			name:    "require_tls without STARTTLS",
			sink:    &smtpSink{},
			cfg:     EmailConfig{},
			wantErr: "the server does not offer STARTTLS and require_tls is true",
			perm:    true,
		},
		{
			name: "local relay without TLS",
			sink: &smtpSink{},
			cfg:  EmailConfig{RequireTLS: &no},
		},
		{
			name:     "insecure auth allowed for a loopback relay",
			sink:     &smtpSink{mechs: []string{"PLAIN"}, user: "alice", pass: "s3cret"},
			cfg:      EmailConfig{Username: "alice", Password: "s3cret", RequireTLS: &no, AllowInsecureAuth: true},
			wantAuth: "AUTH PLAIN in the clear",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := startSMTPSink(t, tc.sink)
			cfg := tc.cfg
			cfg.Smarthost = sink.addr
			cfg.From = "Trainwatch <trainwatch@example.com>"
			cfg.To = []string{"ops@example.com", "Bob <bob@example.com>"}
			if err := cfg.validate("email"); err != nil {
				t.Fatal(err)
			}
			e, err := newEmail(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = e.send(context.Background(), testMessage())
			mails, events := sink.snapshot()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				var pe *permanentError
				if errors.As(err, &pe) != tc.perm {
					t.Errorf("permanent = %v, want %v (%v)", !tc.perm, tc.perm, err)
				}
				if len(mails) != 0 {
					t.Errorf("%d mails delivered despite the error", len(mails))
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if len(mails) != 1 {
					t.Fatalf("%d mails, want 1", len(mails))
				}
				checkMail(t, mails[0], tc.sink.tls != nil)
			}
			for _, ev := range events {
				if strings.HasPrefix(ev, "AUTH") && tc.noAuth {
					t.Errorf("the sink saw %q", ev)
				}
			}
			if tc.wantAuth != "" && !strings.Contains(strings.Join(events, "\n"), tc.wantAuth) {
				t.Errorf("events %q, want %q", events, tc.wantAuth)
			}
		})
	}
}

// checkMail checks the envelope, headers and body of testMessage's mail.
func checkMail(t *testing.T, m sunkMail, wantTLS bool) {
	t.Helper()
	if m.tls != wantTLS {
		t.Errorf("tls %v, want %v", m.tls, wantTLS)
	}
	if m.from != "trainwatch@example.com" || strings.Join(m.to, ",") != "ops@example.com,bob@example.com" {
		t.Errorf("envelope from %q to %q", m.from, m.to)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.data))
	if err != nil {
		t.Fatalf("%v\n%s", err, m.data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[FIRING:1] TrainingLossNaN (node1:9835 trainwatch)" {
		t.Errorf("subject %q (%v)", subject, err)
	}
	if msg.Header.Get("From") != "Trainwatch <trainwatch@example.com>" || msg.Header.Get("To") != "ops@example.com, Bob <bob@example.com>" ||
		msg.Header.Get("Content-Type") != "text/plain; charset=UTF-8" || msg.Header.Get("Message-Id") == "" || msg.Header.Get("Date") == "" {
		t.Errorf("headers %v", msg.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`1 alert(s) firing, 1 resolved (group alertname=TrainingLossNaN)`,
		"[FIRING] TrainingLossNaN\n  training loss of a is NaN — täglich\n  Value:   NaN\n  Started: ",
		"    run = a\n",
		"  Annotations:\n    runbook = https://wiki/nan\n    summary = training loss of a is NaN — täglich\n",
		"  Source:  http://agent.example:9835/api/v1/query?query=x\n",
		"[RESOLVED] TrainingLossNaN\n  TrainingLossNaN is happening\n  Value:   0.5\n",
		"  Ended:   ",
		"    run = b\n",
		"Sent by trainwatch at http://agent.example:9835",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("body lacks %q:\n%s", want, text)
		}
	}
}

// TestEmailThroughDispatcher delivers a group's firing and resolved
// notifications by e-mail.
func TestEmailThroughDispatcher(t *testing.T) {
	cert, certPEM := selfSigned(t)
	sink := startSMTPSink(t, &smtpSink{tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, mechs: []string{"PLAIN"}, user: "u", pass: "p"})
	cfg := EmailConfig{To: []string{"ops@example.com"}, From: "tw@example.com", Smarthost: sink.addr, Username: "u", Password: "p",
		CAFile: writeFile(t, t.TempDir(), "ca.pem", string(certPEM))}
	e, err := newEmail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &receiver{name: "mail", kind: "email", sendResolved: true, integ: e, logger: slog.New(slog.DiscardHandler)}
	d := newDispatcher(ctx, routeOpts{groupBy: []string{model.AlertNameLabel}, wait: 50 * time.Millisecond, interval: 200 * time.Millisecond, repeat: time.Hour},
		[]*receiver{r}, "", 10*time.Millisecond, 20*time.Millisecond, slog.New(slog.DiscardHandler))
	defer func() { cancel(); d.wait() }()
	a, b := mkAlert("DiskFull", "device", "sda"), mkAlert("DiskFull", "device", "sdb")
	d.add(a, b)
	waitFor(t, 5*time.Second, "the mail", func() bool { m, _ := sink.snapshot(); return len(m) == 1 })
	d.add(resolvedNow(a), resolvedNow(b))
	waitFor(t, 5*time.Second, "the resolution mail", func() bool { m, _ := sink.snapshot(); return len(m) == 2 })
	mails, _ := sink.snapshot()
	for i, want := range []string{"[FIRING:2] DiskFull", "[RESOLVED] DiskFull"} {
		msg, err := mail.ReadMessage(bytes.NewReader(mails[i].data))
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Subject"); got != want {
			t.Errorf("mail %d subject %q, want %q", i, got, want)
		}
	}
}
