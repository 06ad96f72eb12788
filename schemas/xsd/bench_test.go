package xsd_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"meldeweg.dev/meldeweg/schemas/xsd"
)

const textXSD = `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="t">
    <xs:simpleType><xs:restriction base="xs:string"><xs:minLength value="1"/></xs:restriction></xs:simpleType>
  </xs:element>
</xs:schema>`

// textDoc streams <t>…</t> with n bytes of text in between, never holding
// the document in memory.
type textDoc struct {
	n, off int64
}

const textHead, textTail = "<t>", "</t>"

func (d *textDoc) Read(p []byte) (int, error) {
	total := d.n + int64(len(textHead)+len(textTail))
	if d.off >= total {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && d.off < total {
		switch {
		case d.off < int64(len(textHead)):
			p[k] = textHead[d.off]
		case d.off >= total-int64(len(textTail)):
			p[k] = textTail[d.off-(total-int64(len(textTail)))]
		default:
			p[k] = "abcdefghijklmnopqrstuvwxyz abcd"[(d.off-int64(len(textHead)))%31]
		}
		k++
		d.off++
	}
	return k, nil
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLargeTextNode validates one element holding one text node of
// 4, 8, 16 and 32 MiB (the text-node limit raised to allow it). Time per
// op must double with the size (it grew ~100× from 16 to 32 MiB when each
// chunk the parser delivered was appended to the value so far), and
// memory must not grow beyond the value the pattern facet needs:
//
//	go test ./schemas/xsd -run '^$' -bench LargeTextNode -benchmem
func BenchmarkLargeTextNode(b *testing.B) {
	s, err := xsd.Compile(mapSource{entry: "/t.xsd", docs: map[string]string{"/t.xsd": textXSD}})
	if err != nil {
		b.Fatal(err)
	}
	for _, mib := range []int64{4, 8, 16, 32} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			n := mib << 20
			opt := xsd.Options{Limits: xsd.Limits{MaxTextLength: int(n) + 1}}
			b.SetBytes(n)
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				var probs []string
				res, err := s.ValidateWith(context.Background(), &textDoc{n: n}, "big.xml", opt, func(p xsd.Problem) {
					probs = append(probs, p.String())
				})
				if err != nil || !res.Valid() {
					b.Fatalf("res=%+v err=%v problems=%s", res, err, strings.Join(probs, "\n"))
				}
			}
			// The machine is shared: CPU time is the steadier figure.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
