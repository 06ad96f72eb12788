package outbox_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"

	"meldeweg.dev/meldeweg/transport/cms"
	"meldeweg.dev/meldeweg/transport/pki"
	"meldeweg.dev/meldeweg/transport/register"
)

// TestAnswersReopenUnderEitherProfile: the BA seals its answers in
// profile compat whatever the upload profile; an answer that opened when
// it came in (Open) opens again from the register (Reopen) for an
// endpoint that uploads with either profile. Reopen used the endpoint's
// upload profile, so under bsi a stored answer no longer opened.
func TestAnswersReopenUnderEitherProfile(t *testing.T) {
	for _, profile := range []cms.Profile{cms.ProfileCompat, cms.ProfileBSI} {
		t.Run(string(profile), func(t *testing.T) {
			ob, ep, pkiDir := setup(t)
			ep.Profile = profile
			ctx := context.Background()
			baSign, err := pki.LoadIdentity(filepath.Join(pkiDir, "ba-sign.pem"), filepath.Join(pkiDir, "ba-sign.key"), pki.Password{})
			if err != nil {
				t.Fatal(err)
			}
			content := []byte("<Quittung><Ergebnis>OK</Ergebnis></Quittung>")
			var sealed bytes.Buffer
			if err := cms.Seal(ctx, &sealed, bytes.NewReader(content), cms.SealOptions{Signer: cms.Signer{Key: baSign.Key, Cert: baSign.Cert},
				Recipients: []*x509.Certificate{ep.Reply.Cert}, Profile: cms.ProfileCompat}); err != nil {
				t.Fatal(err)
			}
			r, err := ob.Open(ctx, ep, sealed.Bytes())
			if err != nil || !bytes.Equal(r.Plain, content) {
				t.Fatalf("Open: %v", err)
			}
			if _, err := ob.Store.Append(ctx, r.Entry(register.AppendParams{Direction: register.DirectionIn, Channel: register.ChannelEmaw,
				Event: register.EventReceived, Actor: register.System("test"), Detail: "answer"})); err != nil {
				t.Fatal(err)
			}
			again, err := ob.Reopen(ctx, ep, r.Sealed)
			if err != nil || !bytes.Equal(again.Plain, content) || again.Signer.Certificate.Subject.CommonName != baSign.Cert.Subject.CommonName {
				t.Fatalf("Reopen under %s: %v", profile, err)
			}
		})
	}
}
