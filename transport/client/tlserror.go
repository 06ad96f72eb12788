package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
)

// TLSError is a TLS failure that retrying cannot fix, with the evidence an
// operator needs: the certificate the server presented and what this
// client expected of it (the pinned CA and the server name), or, when the
// server refused the handshake, the client certificate it was shown.
// errors.Is(err, ErrRejectedTLS) is true.
type TLSError struct {
	// Presented is the server's certificate that failed verification;
	// nil when the server refused the connection.
	Presented *x509.Certificate
	// ServerName is the name the server's certificate must be valid for.
	ServerName string
	// PinnedCAs are the subjects of the CA certificates the client
	// trusts (the only roots; the system pool is never used).
	PinnedCAs []string
	// Client is the client certificate this client presents; nil if none.
	Client *x509.Certificate
	// Err is the TLS layer's error.
	Err error
}

func (e *TLSError) Error() string {
	expected := fmt.Sprintf("expected a certificate for %q issued by the pinned CA %s", e.ServerName, strings.Join(e.PinnedCAs, "; "))
	if e.Presented == nil {
		return fmt.Sprintf("TLS: the server refused the handshake (%v); this client presented %s", e.Err, describeClient(e.Client))
	}
	got := "the server's certificate " + DescribeCertificate(e.Presented)
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(e.Err, &he):
		return fmt.Sprintf("TLS: %s is not valid for %q (it names %s); %s", got, e.ServerName, certNames(e.Presented), expected)
	case errors.As(e.Err, &ua):
		return fmt.Sprintf("TLS: %s is not signed by a pinned CA; %s", got, expected)
	case errors.As(e.Err, &ci):
		return fmt.Sprintf("TLS: %s is invalid (%v); %s", got, ci, expected)
	}
	return fmt.Sprintf("TLS: %s failed verification (%v); %s", got, e.Err, expected)
}

// Unwrap makes errors.Is(err, ErrRejectedTLS) true and exposes the TLS
// layer's error.
func (e *TLSError) Unwrap() []error { return []error{ErrRejectedTLS, e.Err} }

// DescribeCertificate names a certificate for an operator: subject,
// issuer and SHA-256 fingerprint in the form "openssl x509 -noout
// -fingerprint -sha256" prints.
func DescribeCertificate(c *x509.Certificate) string {
	return fmt.Sprintf("(subject %s, issuer %s, SHA-256 fingerprint %s)", c.Subject, c.Issuer, Fingerprint(c))
}

// Fingerprint is the certificate's SHA-256 fingerprint as openssl prints
// it: upper-case hex bytes separated by colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

func describeClient(c *x509.Certificate) string {
	if c == nil {
		return "no client certificate"
	}
	return "the client certificate " + DescribeCertificate(c)
}

func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no DNS name or IP address"
	}
	return strings.Join(names, ", ")
}

// tlsEvidence is what a client knows of its own TLS expectations, to
// explain a failure.
type tlsEvidence struct {
	serverName string
	pinned     []string
	client     *x509.Certificate
}

// newTLSEvidence records cfg's expectations; host is the URL's host,
// checked when cfg.ServerName is empty.
func newTLSEvidence(cfg *tls.Config, host string) *tlsEvidence {
	ev := &tlsEvidence{serverName: cfg.ServerName}
	if ev.serverName == "" {
		ev.serverName = host
	}
	if cfg.RootCAs != nil {
		// Subjects is deprecated only because it cannot list the system
		// pool; the client never uses that (ErrNoRoots).
		for _, raw := range cfg.RootCAs.Subjects() { //nolint:staticcheck
			var rdn pkix.RDNSequence
			if _, err := asn1.Unmarshal(raw, &rdn); err == nil {
				var n pkix.Name
				n.FillFromRDNSequence(&rdn)
				ev.pinned = append(ev.pinned, n.String())
			}
		}
	}
	if len(cfg.Certificates) > 0 {
		c := cfg.Certificates[0]
		ev.client = c.Leaf
		if ev.client == nil && len(c.Certificate) > 0 {
			ev.client, _ = x509.ParseCertificate(c.Certificate[0])
		}
	}
	return ev
}

// explain wraps a TLS failure (see tlsFailure) in a *TLSError.
func (ev *tlsEvidence) explain(err error) error {
	e := &TLSError{ServerName: ev.serverName, PinnedCAs: ev.pinned, Client: ev.client, Err: err}
	var cv *tls.CertificateVerificationError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &cv) && len(cv.UnverifiedCertificates) > 0:
		e.Presented = cv.UnverifiedCertificates[0]
		e.Err = cv.Err
	case errors.As(err, &he):
		e.Presented = he.Certificate
	case errors.As(err, &ua):
		e.Presented = ua.Cert
	case errors.As(err, &ci):
		e.Presented = ci.Cert
	}
	if e.Presented == nil {
		// The server refused us: keep the alert, without the URL noise.
		var oe *net.OpError
		if errors.As(err, &oe) {
			e.Err = oe.Err
		}
	}
	return e
}
