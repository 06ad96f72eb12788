package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/basim"
	"meldeweg.dev/meldeweg/basim/simtest"
	"meldeweg.dev/meldeweg/transport/client"
)

// Handshake against the simulator on loopback: the good identity passes;
// an unpinned server CA, a client certificate the server refuses and no
// client certificate are *TLSErrors naming the certificate; a server
// that hangs up is a plain network error.
func TestHandshake(t *testing.T) {
	t.Parallel()
	p := simtest.NewPKI(t)
	s := simtest.Start(t, p, basim.Config{})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	good := p.ClientTLS(t)
	unpinned := good.Clone()
	unpinned.RootCAs = p.OtherPool
	otherClient := good.Clone()
	otherClient.Certificates = []tls.Certificate{p.OtherClient.TLS}
	noCert := good.Clone()
	noCert.Certificates = nil

	// A listener that is no TLS server: it hangs up on every connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	tests := []struct {
		name string
		cfg  *tls.Config
		addr string
		want []string // nil: success
		tls  bool
	}{
		{"good", good, u.Host, nil, false},
		{"server CA not pinned", unpinned, u.Host, []string{"server's certificate (subject CN=ba.test", "not signed by a pinned CA"}, true},
		{"client certificate from another CA", otherClient, u.Host, []string{"server refused the handshake", "subject CN=Intruder"}, true},
		{"no client certificate", noCert, u.Host, []string{"server refused the handshake", "no client certificate"}, true},
		{"not a TLS server", good, l.Addr().String(), []string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := client.Handshake(ctx, tc.cfg, tc.addr)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Handshake: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Handshake succeeded")
			}
			if got := errors.Is(err, client.ErrRejectedTLS); got != tc.tls {
				t.Errorf("errors.Is(ErrRejectedTLS) = %v, want %v (%v)", got, tc.tls, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
