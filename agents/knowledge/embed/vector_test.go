package embed_test

import (
	"errors"
	"math"
	"testing"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
)

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	for _, v := range [][]float32{
		{},
		{1},
		{0.1, -0.2, 0.3, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32, -1},
	} {
		b := embed.Encode(v)
		if len(b) != 4*len(v) {
			t.Fatalf("Encode(%v): %d bytes", v, len(b))
		}
		got, err := embed.Decode(b)
		if err != nil || got == nil || len(got) != len(v) {
			t.Fatalf("Decode(Encode(%v)) = %v, %v", v, got, err)
		}
		for i := range v {
			if math.Float32bits(got[i]) != math.Float32bits(v[i]) {
				t.Errorf("value %d: %v, want %v", i, got[i], v[i])
			}
		}
	}
	// Little-endian IEEE 754: 1.0 is 0x3f800000.
	if b := embed.Encode([]float32{1}); string(b) != "\x00\x00\x80\x3f" {
		t.Errorf("Encode([1]) = % x", b)
	}
}

func TestDecodeInvalid(t *testing.T) {
	t.Parallel()
	for _, b := range [][]byte{
		{1}, {1, 2, 3}, {1, 2, 3, 4, 5},
		embed.Encode([]float32{1, float32(math.NaN())}),
		embed.Encode([]float32{float32(math.Inf(-1))}),
	} {
		if _, err := embed.Decode(b); !errors.Is(err, embed.ErrInvalidVector) {
			t.Errorf("Decode(% x): err = %v, want ErrInvalidVector", b, err)
		}
	}
}

func TestCosine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b []float32
		want float32
	}{
		{[]float32{1, 0}, []float32{0, 1}, 0},
		{[]float32{1, 2}, []float32{2, 4}, 1},
		{[]float32{1, 2}, []float32{-1, -2}, -1},
		{[]float32{3, 4}, []float32{4, 3}, 0.96},
		{[]float32{0, 0}, []float32{1, 0}, 0},
		{[]float32{0, 0}, []float32{0, 0}, 0},
		{[]float32{1, 0}, []float32{1, 0, 0}, 0}, // different lengths
		{nil, nil, 0},
	} {
		if got := embed.Cosine(tc.a, tc.b); math.Abs(float64(got-tc.want)) > 1e-6 {
			t.Errorf("Cosine(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	v := []float32{3, 0, -4}
	embed.Normalize(v)
	if v[0] != 0.6 || v[1] != 0 || v[2] != -0.8 {
		t.Errorf("Normalize([3 0 -4]) = %v", v)
	}
	z := []float32{0, 0, 0}
	embed.Normalize(z)
	if z[0] != 0 || z[1] != 0 || z[2] != 0 {
		t.Errorf("Normalize of a zero vector changed it: %v", z)
	}
	embed.Normalize(nil) // no panic
	big := []float32{math.MaxFloat32, math.MaxFloat32}
	embed.Normalize(big)
	if math.Abs(norm(big)-1) > 1e-6 {
		t.Errorf("Normalize of huge values: norm %v", norm(big))
	}
}
