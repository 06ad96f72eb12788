package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// defaultTLSConfig holds the TLS settings every Meldeweg connection
// shares, client and server side: TLS 1.2 or newer and, for TLS 1.2, only
// AEAD cipher suites with forward secrecy. It is the one place to change
// them.
func defaultTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // TLS 1.2 only; TLS 1.3 suites are not configurable
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// ErrNoRoots is returned when a TLS configuration would fall back to the
// system roots: the BA's CA must be pinned.
var ErrNoRoots = errors.New("no CA pinned")

// ClientTLSConfig is the configuration for talking to the BA: it presents
// cert and trusts only the CAs in roots (pinned; the system pool is never
// consulted). serverName overrides the name checked in the server
// certificate; "" checks the host of the URL.
func ClientTLSConfig(cert tls.Certificate, roots *x509.CertPool, serverName string) (*tls.Config, error) {
	if roots == nil {
		return nil, fmt.Errorf("client TLS: %w: give the BA's CA certificate", ErrNoRoots)
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("client TLS: no client certificate")
	}
	c := defaultTLSConfig()
	c.Certificates = []tls.Certificate{cert}
	c.RootCAs = roots
	c.ServerName = serverName
	return c, nil
}

// ServerTLSConfig is the configuration of a BA endpoint (the simulator):
// it presents cert and requires a client certificate issued by one of
// clientCAs.
func ServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) (*tls.Config, error) {
	if clientCAs == nil {
		return nil, fmt.Errorf("server TLS: %w for client certificates", ErrNoRoots)
	}
	if len(cert.Certificate) == 0 {
		return nil, errors.New("server TLS: no server certificate")
	}
	c := defaultTLSConfig()
	c.Certificates = []tls.Certificate{cert}
	c.ClientCAs = clientCAs
	c.ClientAuth = tls.RequireAndVerifyClientCert
	return c, nil
}
