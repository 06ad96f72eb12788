package xsozial

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"
)

// benchDataset writes n copies of the sample BG.
func benchDataset(b *testing.B, n int) []byte {
	rs := sampleRecords()
	var buf bytes.Buffer
	w := NewWriter(&buf, "4.3.0")
	w.Kopf(&rs[0])
	for i := 0; i < n; i++ {
		w.BeginBG("12345BG0000001")
		for j := 0; j < 5; j++ {
			w.Record(&rs[1])
			w.Record(&rs[2])
		}
		w.EndBG()
	}
	w.Record(&rs[3])
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkReaderVsEncodingXML: the measurement behind the hand-written
// Reader. encoding/xml only tokenizes here (no records are built).
func BenchmarkReaderVsEncodingXML(b *testing.B) {
	data := benchDataset(b, 5000)
	b.Run("Reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var rec Record
		for i := 0; i < b.N; i++ {
			rd := NewReader(bytes.NewReader(data))
			for {
				_, err := rd.Next(&rec)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("encoding/xml", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for i := 0; i < b.N; i++ {
			dec := xml.NewDecoder(bytes.NewReader(data))
			for {
				_, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
