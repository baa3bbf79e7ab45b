package alerting

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// smtpTimeout bounds one whole SMTP conversation.
const smtpTimeout = 30 * time.Second

// email sends a plain-text e-mail over SMTP.
type email struct {
	cfg       EmailConfig
	host      string
	implicit  bool // port 465: TLS from the first byte
	tlsConfig *tls.Config
}

// newEmail prepares an e-mail integration; it reads ca_file now so that a
// bad file is a start-up error.
func newEmail(cfg EmailConfig) (*email, error) {
	host, port, err := net.SplitHostPort(cfg.Smarthost)
	if err != nil {
		return nil, fmt.Errorf("smarthost %q: %w", cfg.Smarthost, err)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	return &email{cfg: cfg, host: host, implicit: port == "465", tlsConfig: tc}, nil
}

// password returns the configured password, reading password_file anew.
func (e *email) password() (string, error) {
	if e.cfg.PasswordFile == "" {
		return string(e.cfg.Password), nil
	}
	b, err := os.ReadFile(e.cfg.PasswordFile)
	if err != nil {
		return "", permanent(fmt.Errorf("password_file: %w", err))
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (e *email) send(ctx context.Context, m *message) error {
	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	d := net.Dialer{}
	var conn net.Conn
	var err error
	if e.implicit {
		td := tls.Dialer{NetDialer: &d, Config: e.tlsConfig}
		conn, err = td.DialContext(ctx, "tcp", e.cfg.Smarthost)
	} else {
		conn, err = d.DialContext(ctx, "tcp", e.cfg.Smarthost)
	}
	if err != nil {
		return fmt.Errorf("connecting to smarthost %s: %w", e.cfg.Smarthost, err)
	}
	// The deadline covers the whole conversation; a cancelled context (a
	// shutdown) ends it at once.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smarthost %s: %w", e.cfg.Smarthost, smtpErr(err))
	}
	defer c.Close()
	if err := e.converse(c, m); err != nil {
		return fmt.Errorf("smarthost %s: %w", e.cfg.Smarthost, smtpErr(err))
	}
	return nil
}

// converse runs EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA and QUIT.
func (e *email) converse(c *smtp.Client, m *message) error {
	hello := e.cfg.Hello
	if hello == "" {
		hello, _ = os.Hostname()
		if hello == "" {
			hello = "localhost"
		}
	}
	if err := c.Hello(hello); err != nil {
		return err
	}
	if !e.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(e.tlsConfig); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if e.cfg.requireTLS() {
			return permanent(errors.New("the server does not offer STARTTLS and require_tls is true (set require_tls: false for a relay without TLS)"))
		}
	}
	if e.cfg.Username != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS && !(e.cfg.AllowInsecureAuth && isLoopbackHost(e.host)) {
			return permanent(errors.New("refusing to send credentials over an unencrypted connection (the server offers no STARTTLS); allow_insecure_auth is only for a loopback smarthost"))
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return permanent(errors.New("username is set but the server offers no AUTH"))
		}
		pw, err := e.password()
		if err != nil {
			return err
		}
		var auth smtp.Auth
		switch offered := strings.Fields(strings.ToUpper(mechs)); {
		case slices.Contains(offered, "PLAIN"):
			auth = &plainAuth{username: e.cfg.Username, password: pw}
		case slices.Contains(offered, "LOGIN"):
			auth = &loginAuth{username: e.cfg.Username, password: pw}
		default:
			return permanent(fmt.Errorf("the server offers AUTH %s; trainwatch speaks PLAIN and LOGIN", mechs))
		}
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	from, err := mail.ParseAddress(e.cfg.From)
	if err != nil {
		return permanent(fmt.Errorf("from: %w", err))
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	for _, to := range e.cfg.To {
		addr, err := mail.ParseAddress(to)
		if err != nil {
			return permanent(fmt.Errorf("to: %w", err))
		}
		if err := c.Rcpt(addr.Address); err != nil {
			return fmt.Errorf("RCPT TO %s: %w", addr.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(e.render(m, time.Now())); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}

// smtpErr marks 5xx replies as permanent.
func smtpErr(err error) error {
	var pe *permanentError
	if errors.As(err, &pe) {
		return err
	}
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent(err)
	}
	return err
}

// render returns the whole message: headers and a quoted-printable,
// plain-text body.
func (e *email) render(m *message, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", e.cfg.From)
	header("To", strings.Join(e.cfg.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.title()))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-Id", messageID(e.cfg.From))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(emailBody(m), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// messageID returns a unique Message-Id in the sender's domain.
func messageID(from string) string {
	domain := "trainwatch.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
			domain = a.Address[i+1:]
		}
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "<" + hex.EncodeToString(r[:]) + ".trainwatch@" + domain + ">"
}

// emailBody lists the group's alerts with labels, annotations, value and
// times.
func emailBody(m *message) string {
	var b strings.Builder
	switch {
	case m.NumFiring > 0 && m.NumResolved > 0:
		fmt.Fprintf(&b, "%d alert(s) firing, %d resolved", m.NumFiring, m.NumResolved)
	case m.NumFiring > 0:
		fmt.Fprintf(&b, "%d alert(s) firing", m.NumFiring)
	default:
		fmt.Fprintf(&b, "%d alert(s) resolved", m.NumResolved)
	}
	if g := pairsAll(m.GroupLabels); g != "" {
		fmt.Fprintf(&b, " (group %s)", g)
	}
	b.WriteString("\n")
	for _, a := range m.Alerts {
		fmt.Fprintf(&b, "\n[%s] %s\n", strings.ToUpper(a.Status), a.Labels.Get("alertname"))
		if s := summary(a.alert); s != "" {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		fmt.Fprintf(&b, "  Value:   %s\n", formatValue(a.Value))
		fmt.Fprintf(&b, "  Started: %s\n", formatTime(a.StartsAt))
		if a.Status == statusResolved {
			fmt.Fprintf(&b, "  Ended:   %s\n", formatTime(a.EndsAt))
		}
		b.WriteString("  Labels:\n")
		a.Labels.Range(func(l labels.Label) { fmt.Fprintf(&b, "    %s = %s\n", l.Name, l.Value) })
		if a.Annotations.Len() > 0 {
			b.WriteString("  Annotations:\n")
			a.Annotations.Range(func(l labels.Label) { fmt.Fprintf(&b, "    %s = %s\n", l.Name, l.Value) })
		}
		if a.GeneratorURL != "" {
			fmt.Fprintf(&b, "  Source:  %s\n", a.GeneratorURL)
		}
	}
	if m.ExternalURL != "" {
		fmt.Fprintf(&b, "\nSent by trainwatch at %s\n", m.ExternalURL)
	} else {
		b.WriteString("\nSent by trainwatch\n")
	}
	return b.String()
}

// pairsAll formats every label as name=value, comma separated.
func pairsAll(ls labels.Labels) string {
	var out []string
	ls.Range(func(l labels.Label) { out = append(out, l.Name+"="+l.Value) })
	return strings.Join(out, ", ")
}

// plainAuth is SASL PLAIN (RFC 4616). The caller has made sure the
// connection is encrypted (or an allowed loopback relay).
type plainAuth struct{ username, password string }

func (a *plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.username + "\x00" + a.password), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism: the server asks for the username, then
// the password.
type loginAuth struct {
	username, password string
	step               int
}

func (a *loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	prompt := strings.ToLower(strings.TrimSpace(string(fromServer)))
	switch {
	case strings.HasPrefix(prompt, "user"):
		return []byte(a.username), nil
	case strings.HasPrefix(prompt, "pass"):
		return []byte(a.password), nil
	case a.step == 1:
		return []byte(a.username), nil
	case a.step == 2:
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected AUTH LOGIN challenge %q", fromServer)
}
