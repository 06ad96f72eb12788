package client_test

import (
	"archive/zip"
	"bytes"
	"testing"
)

// minimalZip is a one-entry ZIP with a well-formed XML document.
func minimalZip(t testing.TB) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create("Eintritt_1.xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`<?xml version="1.0"?><Eintritt/>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
