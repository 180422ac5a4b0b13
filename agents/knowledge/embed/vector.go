package embed

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Cosine is the cosine similarity of a and b, in [-1, 1]. It is 0 when either vector is all zero,
// and also when the lengths differ (vectors from different embedders are not comparable). Sums
// are taken in float64: a unit vector scores 1 against itself to within float32 rounding.
func Cosine(a, b []float32) float32 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i, x := range a {
		y := float64(b[i])
		dot += float64(x) * y
		na += float64(x) * float64(x)
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	c := dot / (math.Sqrt(na) * math.Sqrt(nb))
	return float32(max(-1, min(1, c)))
}

// Normalize scales v to unit length in place. A zero vector is left as it is.
//
// The result is the same on every machine: the squares of float32 values are exact in float64, so
// a fused multiply-add cannot change the sum, and square root and division are correctly rounded.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(ss, 0) || math.IsNaN(ss) {
		return
	}
	n := math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) / n)
	}
}

// Encode stores v as 4×len(v) bytes, each value as its IEEE 754 bits, little-endian — the format
// Decode reads, suitable for a PostgreSQL bytea column.
func Encode(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// Decode reads a vector written by Encode. It fails with ErrInvalidVector when len(b) is not a
// multiple of 4 or a value is NaN or infinite (no Embedder produces either). An empty b gives an
// empty, non-nil vector.
func Decode(b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of float32s", ErrInvalidVector, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("%w: value %d is %v", ErrInvalidVector, i, x)
		}
		v[i] = x
	}
	return v, nil
}
