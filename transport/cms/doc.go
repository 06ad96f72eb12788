// Package cms is Meldeweg's security envelope: it signs and encrypts
// payloads (Seal) and decrypts and verifies them (Open) as CMS (RFC 5652)
// messages that openssl cms reads and writes, streaming in constant memory.
//
//	err := cms.Seal(ctx, dst, src, cms.SealOptions{
//		Signer:     cms.Signer{Key: id.Key, Cert: id.Cert},
//		Recipients: []*x509.Certificate{baEncrypt},
//		Profile:    cms.ProfileBSI,
//	})
//	info, err := cms.Open(ctx, dst, src, cms.OpenOptions{
//		Key: key, Cert: cert, Trust: roots, Profile: cms.ProfileBSI,
//	})
//
// SealFile and OpenFile do the same between files and write the output
// through a temporary file renamed on success, so a failed Open never
// leaves plaintext behind.
//
// # Why not a PKCS#7 library
//
// The measurements in shared/notes/libraries.md rule out the Go PKCS#7
// packages (mozilla, smallstep, digitorus) for this job: none streams (peak
// memory 2-6× the payload), none writes RSA-PSS, their AES-GCM and
// OAEP-SHA256 output is not readable by openssl, and smallstep needs 39.5 s
// for a 100 MB openssl -stream signature (quadratic). So this package is
// written on Go's crypto primitives and encoding/asn1: a streaming BER
// layer (indefinite lengths both ways), SignedData with signed attributes,
// EnvelopedData with KeyTransRecipientInfo, AuthEnvelopedData with
// AES-256-GCM (RFC 5083/5084), RSASSA-PSS (RFC 4056) and RSAES-OAEP with
// explicit SHA-256/MGF1-SHA-256 parameters (RFC 4055/8017). AES-GCM is
// streamed as AES-CTR plus a GHASH computed through Go's accelerated GCM
// (see cipher.go); tests compare it with crypto/cipher and with openssl.
//
// # Message layout
//
//	ContentInfo(EnvelopedData | AuthEnvelopedData)          compat | bsi
//	  encryptedContent, type id-data:
//	    ContentInfo(SignedData, SHA-256, certificates, one SignerInfo)
//	      eContent, type id-ct-compressedData:
//	        CompressedData(zlib): the payload
//
// The signed layer is a whole ContentInfo carried as id-data, which is how
// "openssl cms -sign | openssl cms -encrypt" nests; "openssl cms -decrypt |
// openssl cms -verify" therefore accepts Seal's output. Open also accepts
// SignedData directly as the encrypted content type, uncompressed id-data
// content, DER or indefinite-length BER, and issuer-and-serial or
// subject-key-identifier references.
//
// # Compression
//
// The payload is compressed with zlib (level 1 by default) as CMS
// CompressedData (RFC 3274) inside the signature: compress, then sign, then
// encrypt. Signing the compressed form means openssl can still verify the
// signature without zlib support (Debian's openssl 3.0 has none: "cms
// -compress" fails with "unsupported compression algorithm") and Open only
// inflates data whose digest it is computing for the signature check. XML
// shrinks about tenfold. SealOptions.Uncompressed writes plain id-data for
// counterparts that cannot inflate.
//
// # Profiles
//
// ProfileCompat: SHA-256 with RSA PKCS#1 v1.5 (or ECDSA), RSA PKCS#1 v1.5
// key transport, AES-256-CBC. ProfileBSI (BSI TR-02102): RSASSA-PSS
// (SHA-256, MGF1-SHA-256, salt 32) or ECDSA, RSAES-OAEP-SHA-256,
// AES-256-GCM. No profile produces or accepts SHA-1, MD5, DES, 3DES or RC2.
// On Open the profile is a floor: bsi refuses compat algorithms, compat
// accepts both.
//
// # Errors
//
// Every refusal wraps one sentinel (ErrCiphertext, ErrContentAltered,
// ErrNotRecipient, ErrSignerExpired, ErrSignerNotYetValid,
// ErrUntrustedSigner, ErrBadSignature, ErrTruncated, ...; ErrTooDeep
// refines ErrMalformed, so errors.Is matches both); *FormatError,
// *CertificateError and *AlgorithmError carry the evidence (offset,
// subject and serial, validity window, algorithm). With AES-CBC a damaged
// ciphertext has no integrity check of its own and shows up as
// ErrContentAltered (the digest no longer matches the signature); with
// AES-GCM it is ErrCiphertext. When both apply, the outer check wins: a
// bad tag or a truncated input is reported rather than the parse error it
// caused.
//
// # Limits
//
//   - Each BER layer (the message, the decrypted content, the compressed
//     content) nests at most 64 constructed elements (maxDepth; real CMS
//     needs about 20), and an element read whole (certificates,
//     RecipientInfos, SignerInfos) is at most 16 MiB. Deeper input is
//     refused with ErrTooDeep (which wraps ErrMalformed), naming the layer,
//     the byte offset and the limit, before anything deeper is read; the
//     refusal costs constant memory, and every input byte is copied at
//     most 64 times while an element is normalised to DER.
//   - Recipients must have RSA keys (key transport); key agreement
//     (ECDH) recipients are not supported. Signers may be RSA or ECDSA.
//   - AES-GCM nonces must be 12 bytes (what RFC 5084 recommends and openssl
//     writes); authAttrs in AuthEnvelopedData are refused.
//   - Open writes content before the GCM tag and the signature (both at the
//     end) are checked; Open's dst must be discarded on error (OpenFile
//     does this).
//   - openssl 3.0 cannot stream an RSA-PSS signature (cms -sign -stream
//     with rsa_padding_mode:pss fails with "illegal zero content"); such
//     counterparts send definite-length SignedData, which Open reads.
//   - Open with RSA PKCS#1 v1.5 key transport reports a failed key unwrap
//     as ErrKeyDecrypt; a service that opens messages from arbitrary
//     senders and shows that error to them would be a padding oracle. The
//     bsi profile (OAEP) avoids this.
package cms
