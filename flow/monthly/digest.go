package monthly

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"regexp"
	"sync"
)

// A dataset's data digest tells whether two builds of a month hold the
// same data: the SHA-256 of the dataset after its header (from the end of
// <kopf> on). The header differs between two builds of the same data
// (creation time, Lieferart, software version), the records do not, as
// the build is deterministic. Runs compare data digests to tell "the same
// source again" (one delivery) from "other data for a month that has a
// delivery" (a replacement needs --correction).

// kopfEnd ends the header; the records start after it.
var kopfEnd = []byte("</kopf>\n")

// maxHeader bounds the bytes held while looking for the end of the
// header; a header is a few hundred bytes.
const maxHeader = 64 << 10

// dataDigest is an io.Writer that hashes what follows the header.
type dataDigest struct {
	h      hash.Hash
	head   []byte // held until kopfEnd is seen
	inData bool
}

func newDataDigest() *dataDigest { return &dataDigest{h: sha256.New()} }

func (d *dataDigest) Write(p []byte) (int, error) {
	if d.inData {
		return d.h.Write(p)
	}
	d.head = append(d.head, p...)
	if i := bytes.Index(d.head, kopfEnd); i >= 0 {
		d.h.Write(d.head[i+len(kopfEnd):])
		d.head, d.inData = nil, true
	} else if len(d.head) > maxHeader {
		// No header: the whole output is data.
		d.h.Write(d.head)
		d.head, d.inData = nil, true
	}
	return len(p), nil
}

// Sum is the digest in hex.
func (d *dataDigest) Sum() string {
	if !d.inData {
		d.h.Write(d.head)
		d.head, d.inData = nil, true
	}
	return hex.EncodeToString(d.h.Sum(nil))
}

// digestDetail is how a "built" entry's detail names the data digest.
const digestDetail = "data SHA-256 "

var digestRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`data SHA-256 ([0-9a-f]{64})`) })

// digestOf returns the data digest a "built" entry's detail names, or "".
func digestOf(detail string) string {
	if m := digestRe().FindStringSubmatch(detail); m != nil {
		return m[1]
	}
	return ""
}
