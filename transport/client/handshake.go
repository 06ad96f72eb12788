package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// Handshake checks that a mutual TLS connection with the server at addr
// (host:port) can be made with cfg, the configuration ClientTLSConfig
// returns: it completes the handshake, verifying the server's certificate
// against cfg's pinned roots, and then sends one HEAD request and reads the
// first byte of the answer, because under TLS 1.3 a server that refuses
// the client's certificate says so only after the handshake. Nothing else
// is sent; the answer's status does not matter.
//
// A verification failure on either side is a *TLSError (errors.Is
// ErrRejectedTLS) naming the certificate presented and what was
// expected; any other failure (no route, refused, timeout) is returned as
// it is. ctx bounds the whole check.
func Handshake(ctx context.Context, cfg *tls.Config, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("handshake: %q: want HOST:PORT: %w", addr, err)
	}
	ev := newTLSEvidence(cfg, host)
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if tlsFailure(err) {
			return ev.explain(err)
		}
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	conn.SetDeadline(deadline)
	req := "HEAD / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	_, werr := io.WriteString(conn, req)
	var b [1]byte
	_, rerr := conn.Read(b[:])
	switch {
	case rerr == nil:
		return nil // the server answered: it took the client certificate
	case tlsFailure(rerr):
		return ev.explain(rerr)
	case werr != nil && tlsFailure(werr):
		return ev.explain(werr)
	case errors.Is(rerr, io.EOF) || errors.Is(rerr, syscall.ECONNRESET) || errors.Is(werr, syscall.ECONNRESET) || errors.Is(werr, syscall.EPIPE):
		// Closed without an answer right after the handshake: under
		// TLS 1.3 this is how a refused client certificate can look
		// when the alert was lost to the reset.
		return ev.explain(fmt.Errorf("the connection was closed without an answer after the handshake: %w", rerr))
	}
	return rerr
}
