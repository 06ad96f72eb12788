package msg

import (
	"context"
	"testing"
)

// BenchmarkMarshal builds and validates one AnwesenheitMonat (~5 KB).
func BenchmarkMarshal(b *testing.B) {
	c := testCodec(b)
	m := Example(TypeAnwesenheitMonat)
	data, _, err := c.Marshal(context.Background(), m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := c.Marshal(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshal validates and reads one AnwesenheitMonat (~5 KB).
func BenchmarkUnmarshal(b *testing.B) {
	c := testCodec(b)
	data, _, err := c.Marshal(context.Background(), Example(TypeAnwesenheitMonat))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := c.Unmarshal(context.Background(), data, "bench.xml"); err != nil {
			b.Fatal(err)
		}
	}
}
