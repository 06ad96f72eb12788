package cms

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Profile is a named set of algorithms. Seal uses exactly the profile's
// algorithms; Open treats the profile as a floor (see Open).
type Profile string

const (
	// ProfileCompat is what today's counterparts mostly speak:
	// SHA-256 with RSA PKCS#1 v1.5 signatures (ECDSA P-256 also
	// accepted), RSA PKCS#1 v1.5 key transport, AES-256-CBC in
	// EnvelopedData.
	ProfileCompat Profile = "compat"
	// ProfileBSI follows BSI TR-02102: RSASSA-PSS (SHA-256, MGF1-SHA-256,
	// salt 32) or ECDSA signatures, RSAES-OAEP with SHA-256 and
	// MGF1-SHA-256 key transport, AES-256-GCM in AuthEnvelopedData.
	ProfileBSI Profile = "bsi"
)

// Profiles lists every profile.
func Profiles() []Profile { return []Profile{ProfileCompat, ProfileBSI} }

// ParseProfile accepts "compat" or "bsi"; "" gives ProfileCompat.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "":
		return ProfileCompat, nil
	case ProfileCompat, ProfileBSI:
		return Profile(s), nil
	}
	return "", fmt.Errorf("unknown CMS profile %q: expected compat or bsi", s)
}

// Object identifiers (RFC 5652, 3274, 4055, 4056, 5083, 5084, 5754, 5758).
var (
	oidData              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEnvelopedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidAuthEnvelopedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidCompressedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 9}
	oidZlibCompress      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 8}

	oidAttrContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAESOAEP       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidMGF1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}

	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}
	oidAES128GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}
	oidAES192GCM = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 26}
)

// weakOIDs are refused by every profile with a named reason.
var weakOIDs = map[string]string{
	oidSHA1.String():            "SHA-1",
	"1.2.840.113549.2.5":        "MD5",
	"1.2.840.113549.1.1.5":      "SHA-1 with RSA",
	"1.2.840.113549.1.1.4":      "MD5 with RSA",
	"1.2.840.10045.4.1":         "ECDSA with SHA-1",
	"1.3.14.3.2.7":              "DES-CBC",
	"1.2.840.113549.3.7":        "DES-EDE3-CBC",
	"1.2.840.113549.3.2":        "RC2-CBC",
	"1.2.840.113549.1.9.16.3.6": "3DES key wrap",
	"2.16.840.1.101.3.4.1.1":    "AES-128-ECB",
}

// hashes maps digest OIDs to hash functions; SHA-1 is deliberately absent.
var hashes = map[string]crypto.Hash{
	oidSHA256.String(): crypto.SHA256,
	oidSHA384.String(): crypto.SHA384,
	oidSHA512.String(): crypto.SHA512,
}

func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return oidSHA256
}

// rsaPSSParams is RSASSA-PSS-params (RFC 4055).
type rsaPSSParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF          pkix.AlgorithmIdentifier `asn1:"explicit,tag:1,optional"`
	SaltLength   int                      `asn1:"explicit,tag:2,optional,default:20"`
	TrailerField int                      `asn1:"explicit,tag:3,optional,default:1"`
}

// rsaOAEPParams is RSAES-OAEP-params (RFC 4055). pSourceFunc is left at its
// default (empty label).
type rsaOAEPParams struct {
	Hash        pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF         pkix.AlgorithmIdentifier `asn1:"explicit,tag:1,optional"`
	PSourceFunc asn1.RawValue            `asn1:"explicit,tag:2,optional"`
}

var asn1Null = asn1.RawValue{Tag: asn1.TagNull, FullBytes: []byte{tagNull, 0}}

// hashAlgID is the AlgorithmIdentifier of a hash, with NULL parameters as
// openssl writes them (RFC 4055 allows both absent and NULL).
func hashAlgID(h crypto.Hash) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: hashOID(h), Parameters: asn1Null}
}

// mgf1AlgID is MGF1 with hash h.
func mgf1AlgID(h crypto.Hash) pkix.AlgorithmIdentifier {
	inner, _ := asn1.Marshal(hashAlgID(h))
	return pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: inner}}
}

// hashFromParams resolves the hash and MGF1 hash of PSS or OAEP
// parameters; absent fields mean SHA-1 (RFC 4055), which is refused.
func hashFromParams(role string, hashID, mgfID pkix.AlgorithmIdentifier) (crypto.Hash, error) {
	if len(hashID.Algorithm) == 0 || len(mgfID.Algorithm) == 0 {
		return 0, &AlgorithmError{Role: role, Name: "SHA-1 (parameters absent)", Reason: "SHA-1 is refused by every profile"}
	}
	h, ok := hashes[hashID.Algorithm.String()]
	if !ok {
		return 0, algRefused(role, hashID.Algorithm)
	}
	if !mgfID.Algorithm.Equal(oidMGF1) {
		return 0, &AlgorithmError{Role: role, OID: mgfID.Algorithm.String(), Reason: "only MGF1 is supported"}
	}
	var mh pkix.AlgorithmIdentifier
	if _, err := asn1.Unmarshal(mgfID.Parameters.FullBytes, &mh); err != nil {
		return 0, &AlgorithmError{Role: role, Name: "MGF1", Reason: "unreadable MGF1 hash parameter"}
	}
	if !mh.Algorithm.Equal(hashID.Algorithm) {
		return 0, &AlgorithmError{Role: role, Name: "MGF1", Reason: fmt.Sprintf("MGF1 hash %s differs from the hash %s", mh.Algorithm, hashID.Algorithm)}
	}
	return h, nil
}

func algRefused(role string, oid asn1.ObjectIdentifier) error {
	if name, ok := weakOIDs[oid.String()]; ok {
		return &AlgorithmError{Role: role, OID: oid.String(), Name: name, Reason: "weak algorithms are refused by every profile"}
	}
	return &AlgorithmError{Role: role, OID: oid.String(), Reason: "not supported"}
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	}
	return h.String()
}
