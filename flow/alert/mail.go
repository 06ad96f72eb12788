package alert

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// Mail sends each notice as a plain-text e-mail through an SMTP server
// that offers STARTTLS. It refuses to send over a connection that could
// not be upgraded to TLS.
type Mail struct {
	// Addr is the server's host:port (587, submission, is usual).
	Addr string
	From string
	To   []string
	// Username and Password, if set, authenticate with PLAIN after
	// STARTTLS.
	Username, Password string
	// TLS configures STARTTLS; ServerName defaults to Addr's host.
	TLS *tls.Config
	// Timeout bounds the whole exchange; defaults to 30 seconds.
	Timeout time.Duration
}

func (m *Mail) String() string { return "mail to " + strings.Join(m.To, ", ") + " via " + m.Addr }

// Notify sends n.
func (m *Mail) Notify(ctx context.Context, n Notice) error {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(m.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return fmt.Errorf("the server offers no STARTTLS; refusing to send an alert in the clear")
	}
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if m.TLS != nil {
		cfg = m.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
	}
	if err := c.StartTLS(cfg); err != nil {
		return fmt.Errorf("STARTTLS: %w", err)
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("authentication: %w", err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("recipient %s: %w", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(message(m.From, m.To, n)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message formats n as an RFC 5322 message.
func message(from string, to []string, n Notice) []byte {
	var b strings.Builder
	subject := fmt.Sprintf("[Meldeweg %s] %s", strings.ToUpper(string(n.Kind)), n.Incident.Summary)
	if n.Kind == Resolved {
		subject = "[Meldeweg resolved] " + n.Incident.Summary
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, strings.Join(to, ", "), oneLine(subject), n.At.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nX-Meldeweg-Incident: %s\r\n\r\n", oneLine(n.Incident.Key))
	fmt.Fprintf(&b, "Incident: %s\r\nSeverity: %s\r\nScope: %s\r\nSince: %s\r\n", n.Incident.Key, n.Incident.Severity, n.Incident.Scope, n.Incident.Since.Format(time.RFC3339))
	if n.Instance != "" {
		fmt.Fprintf(&b, "Instance: %s\r\n", n.Instance)
	}
	if n.Incident.Detail != "" {
		b.WriteString("\r\n" + strings.ReplaceAll(n.Incident.Detail, "\n", "\r\n") + "\r\n")
	}
	if n.Kind == Resolved {
		fmt.Fprintf(&b, "\r\nResolved at %s.\r\n", n.At.Format(time.RFC3339))
	}
	return []byte(b.String())
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
