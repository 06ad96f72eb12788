package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"time"
)

// This file holds the checks of Open's signed layer: each SignerInfo's
// digest and signature, and the signer certificate's validity, chain and
// key usage.

// ridMatches tells whether a RecipientIdentifier or SignerIdentifier
// (IssuerAndSerialNumber or [0] SubjectKeyIdentifier) names c.
func ridMatches(rid asn1.RawValue, c *x509.Certificate) (bool, string) {
	if rid.Class == asn1.ClassContextSpecific && rid.Tag == 0 {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(rid.Bytes, c.SubjectKeyId), fmt.Sprintf("key id %x", rid.Bytes)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(rid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return false, "(unreadable identifier)"
	}
	var issuer pkix.RDNSequence
	name := fmt.Sprintf("serial %s", ias.Serial)
	if _, err := asn1.Unmarshal(ias.Issuer.FullBytes, &issuer); err == nil {
		var n pkix.Name
		n.FillFromRDNSequence(&issuer)
		name += fmt.Sprintf(" issued by %q", n.String())
	}
	return bytes.Equal(ias.Issuer.FullBytes, c.RawIssuer) && ias.Serial.Cmp(c.SerialNumber) == 0, name
}

type signerInfo struct {
	Version     int
	SID         asn1.RawValue
	DigestAlg   pkix.AlgorithmIdentifier
	SignedAttrs asn1.RawValue `asn1:"optional,tag:0"`
	SigAlg      pkix.AlgorithmIdentifier
	Signature   []byte
	Unsigned    asn1.RawValue `asn1:"optional,tag:1"`
}

// verify checks every SignerInfo: digest, signature, certificate.
func (o *opener) verify(sisDER []byte, certs []*x509.Certificate, eType asn1.ObjectIdentifier, hs map[crypto.Hash]hash.Hash) error {
	var sis []asn1.RawValue
	if _, err := asn1.UnmarshalWithParams(sisDER, &sis, "set"); err != nil {
		return fmt.Errorf("%w: signerInfos: %v", ErrMalformed, err)
	}
	if len(sis) == 0 {
		return fmt.Errorf("%w: SignedData has no SignerInfo", ErrNotSigned)
	}
	for i, raw := range sis {
		var si signerInfo
		if _, err := asn1.Unmarshal(raw.FullBytes, &si); err != nil {
			return fmt.Errorf("%w: SignerInfo: %v", ErrMalformed, err)
		}
		if err := o.verifyOne(si, certs, eType, hs, i == 0); err != nil {
			return err
		}
	}
	return nil
}

func (o *opener) verifyOne(si signerInfo, certs []*x509.Certificate, eType asn1.ObjectIdentifier, hs map[crypto.Hash]hash.Hash, first bool) error {
	var cert *x509.Certificate
	var name string
	for _, c := range certs {
		var ok bool
		if ok, name = ridMatches(si.SID, c); ok {
			cert = c
			break
		}
	}
	if cert == nil {
		_, name = ridMatches(si.SID, &x509.Certificate{})
		return fmt.Errorf("%w: the signer certificate (%s) is not in the message", ErrNotSigned, name)
	}
	dh, ok := hashes[si.DigestAlg.Algorithm.String()]
	if !ok {
		return algRefused("digest", si.DigestAlg.Algorithm)
	}
	digest := hs[dh].Sum(nil)

	// What the signature covers: the DER SET OF signed attributes, or the
	// content digest when there are none.
	signedHash := digest
	var signingTime time.Time
	if len(si.SignedAttrs.FullBytes) > 0 {
		var attrs []attribute
		if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "tag:0,set"); err != nil {
			return fmt.Errorf("%w: signedAttrs: %v", ErrMalformed, err)
		}
		var gotDigest []byte
		var gotType asn1.ObjectIdentifier
		for _, a := range attrs {
			switch {
			case a.Type.Equal(oidAttrMessageDigest):
				asn1.Unmarshal(a.Values.Bytes, &gotDigest)
			case a.Type.Equal(oidAttrContentType):
				asn1.Unmarshal(a.Values.Bytes, &gotType)
			case a.Type.Equal(oidAttrSigningTime):
				asn1.Unmarshal(a.Values.Bytes, &signingTime)
			}
		}
		if !gotType.Equal(eType) {
			return fmt.Errorf("%w: signed contentType %s differs from eContentType %s", ErrMalformed, gotType, eType)
		}
		if !bytes.Equal(gotDigest, digest) {
			return fmt.Errorf("%w: %s digest of the content is %x, the signature says %x", ErrContentAltered, hashName(dh), digest, gotDigest)
		}
		set := append([]byte{tagSet}, si.SignedAttrs.FullBytes[1:]...)
		h := dh.New()
		h.Write(set)
		signedHash = h.Sum(nil)
	}
	sigName, err := o.checkSignature(si, cert, dh, signedHash)
	if err != nil {
		return err
	}
	chains, err := o.checkCertificate(cert, certs)
	if err != nil {
		return err
	}
	if first {
		o.info.Certificate, o.info.Chains, o.info.SigningTime, o.info.Signature = cert, chains, signingTime, sigName
	}
	return nil
}

func (o *opener) checkSignature(si signerInfo, cert *x509.Certificate, dh crypto.Hash, signed []byte) (string, error) {
	bsi := o.opts.Profile == ProfileBSI
	bad := func(err error) error {
		return &CertificateError{Subject: cert.Subject.String(), Serial: cert.SerialNumber, Detail: err.Error(), Err: ErrBadSignature}
	}
	alg := si.SigAlg.Algorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Equal(oidRSASSAPSS):
			var p rsaPSSParams
			if _, err := asn1.Unmarshal(si.SigAlg.Parameters.FullBytes, &p); err != nil {
				return "", fmt.Errorf("%w: RSASSA-PSS parameters: %v", ErrMalformed, err)
			}
			h, err := hashFromParams("signature", p.Hash, p.MGF)
			if err != nil {
				return "", err
			}
			if h != dh {
				return "", &AlgorithmError{Role: "signature", Name: "RSASSA-PSS", Reason: "PSS hash differs from the digest algorithm"}
			}
			if p.TrailerField != 1 {
				return "", &AlgorithmError{Role: "signature", Name: "RSASSA-PSS", Reason: "trailer field must be 1"}
			}
			if err := rsa.VerifyPSS(pub, dh, signed, si.Signature, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: dh}); err != nil {
				return "", bad(err)
			}
			return "RSASSA-PSS-" + hashName(dh), nil
		case alg.Equal(oidRSAEncryption), alg.Equal(oidSHA256WithRSA) && dh == crypto.SHA256,
			alg.Equal(oidSHA384WithRSA) && dh == crypto.SHA384, alg.Equal(oidSHA512WithRSA) && dh == crypto.SHA512:
			if bsi {
				return "", &AlgorithmError{Role: "signature", Name: "RSA PKCS#1 v1.5", Profile: o.opts.Profile, Reason: "the bsi profile requires RSASSA-PSS or ECDSA"}
			}
			if err := rsa.VerifyPKCS1v15(pub, dh, signed, si.Signature); err != nil {
				return "", bad(err)
			}
			return "RSA-PKCS1v15-" + hashName(dh), nil
		}
	case *ecdsa.PublicKey:
		if alg.Equal(oidECDSAWithSHA256) || alg.Equal(oidECDSAWithSHA384) || alg.Equal(oidECDSAWithSHA512) {
			if !ecdsa.VerifyASN1(pub, signed, si.Signature) {
				return "", bad(errors.New("ECDSA verification failed"))
			}
			return "ECDSA-" + hashName(dh), nil
		}
	default:
		return "", &AlgorithmError{Role: "signature", Name: fmt.Sprintf("%T key", pub), Reason: "RSA or ECDSA keys only"}
	}
	return "", algRefused("signature", alg)
}

// checkCertificate checks the signer certificate's validity, its chain
// to the trust anchors, and its key usage.
func (o *opener) checkCertificate(cert *x509.Certificate, certs []*x509.Certificate) ([][]*x509.Certificate, error) {
	now := o.opts.Now
	certErr := func(c *x509.Certificate, kind error, detail string) error {
		return &CertificateError{Subject: c.Subject.String(), Serial: c.SerialNumber, NotBefore: c.NotBefore, NotAfter: c.NotAfter, Now: now, Detail: detail, Err: kind}
	}
	if now.After(cert.NotAfter) {
		return nil, certErr(cert, ErrSignerExpired, "")
	}
	if now.Before(cert.NotBefore) {
		return nil, certErr(cert, ErrSignerNotYetValid, "")
	}
	inter := x509.NewCertPool()
	for _, c := range certs {
		if c != cert {
			inter.AddCert(c)
		}
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: o.opts.Trust, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			kind := ErrSignerExpired
			if now.Before(inv.Cert.NotBefore) {
				kind = ErrSignerNotYetValid
			}
			return nil, certErr(inv.Cert, kind, "in the chain of "+cert.Subject.String())
		case errors.As(err, &ua):
			return nil, certErr(cert, ErrUntrustedSigner, err.Error())
		}
		return nil, certErr(cert, ErrUntrustedSigner, err.Error())
	}
	if ku := cert.KeyUsage; ku != 0 && ku&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, certErr(cert, ErrKeyUsage, "neither digitalSignature nor contentCommitment")
	}
	return chains, nil
}
