package embed

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Dimensions of the lexical embedder.
const (
	DefaultLexicalDims = 384  // what NewLexical(0) uses
	MinLexicalDims     = 16   // fewer buckets collide too much to be useful
	MaxLexicalDims     = 4096 // more buckets only cost space
)

// bigramWeight scales a word pair's weight relative to a single word's.
const bigramWeight = 0.5

// NewLexical returns the built-in embedder, named "lexical-hash-v1/<dims>": no model, no
// network, the same vector for the same text on every run and every machine.
//
// It captures word overlap, not meaning: texts score high when they share words (after
// lower-casing, stop-word removal and light suffix stripping) and word pairs, and "car" and
// "automobile" are as unrelated as "car" and "banana". It is a sound default for keyword-like
// search and for tests; configure NewHTTP with a real model for semantic search.
//
// The scheme, which version 1 in the name pins:
//
//  1. Tokens are runs of Unicode letters and digits, lower-cased; stop words (a short English
//     list) are dropped; at most one English suffix is stripped (plural -s/-es/-ies, -ing, -ed;
//     see stem for the exact, conservative rules).
//  2. Features are every token (a unigram) and every pair of adjacent remaining tokens (a bigram,
//     so pairs bridge removed stop words: "state of the art" gives the bigram "state art").
//  3. A feature's hash is 64-bit FNV-1a of the token's UTF-8 bytes, or for a bigram of the first
//     token, a 0 byte, then the second. Its bucket is (low 32 bits × dims) >> 32 and its sign is
//     the hash's top bit (set: negative), so colliding features tend to cancel, not pile up.
//  4. A feature occurring tf times adds ±(1+ln tf), times 0.5 for a bigram, to its bucket.
//  5. The vector is scaled to unit length; a text with no remaining tokens gives a zero vector.
//
// Token rules follow the Unicode tables of the Go release that built the program; ASCII text is
// unaffected by them. dims 0 means DefaultLexicalDims; a value outside MinLexicalDims…
// MaxLexicalDims panics with an error wrapping ErrInvalidConfig (check the range first when dims
// comes from user configuration).
func NewLexical(dims int) Embedder {
	if dims == 0 {
		dims = DefaultLexicalDims
	}
	if dims < MinLexicalDims || dims > MaxLexicalDims {
		panic(fmt.Errorf("%w: NewLexical dims %d is outside %d…%d", ErrInvalidConfig, dims, MinLexicalDims, MaxLexicalDims))
	}
	o := &lexical{dims: dims, name: fmt.Sprintf("lexical-hash-v1/%d", dims)}
	o.pool.New = func() any { return new(scratch) }
	return o
}

type lexical struct {
	dims int
	name string
	pool sync.Pool // *scratch
}

func (o *lexical) Name() string { return o.name }
func (o *lexical) Dims() int    { return o.dims }

// ctxCheckEvery is how many texts Embed embeds between looks at ctx (a few milliseconds' work).
const ctxCheckEvery = 128

func (o *lexical) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	s := o.pool.Get().(*scratch)
	defer o.pool.Put(s)
	out := make([][]float32, len(texts))
	for i, text := range texts {
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embed %s: %w", o.name, err)
			}
		}
		v := make([]float32, o.dims)
		s.embed(text, v)
		out[i] = v
	}
	return out, nil
}

// scratch is the reusable working memory of one Embed call.
type scratch struct {
	tok      tokenizer
	unigrams []uint64
	bigrams  []uint64
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// embed writes text's vector into v, which must be zero.
func (s *scratch) embed(text string, v []float32) {
	s.unigrams, s.bigrams = s.unigrams[:0], s.bigrams[:0]
	s.tok = tokenizer{text: text, buf: s.tok.buf}
	var prev uint64
	first := true
	for tok := s.tok.next(); tok != nil; tok = s.tok.next() {
		if isStopWord(tok) {
			continue
		}
		tok = stem(tok)
		h := fnvAdd(fnvOffset, tok)
		s.unigrams = append(s.unigrams, h)
		if !first {
			// FNV-1a of prev's bytes, a 0 byte, tok's bytes: prev's hash is the state after its
			// bytes, and a 0 byte is a multiplication alone (h ^= 0 changes nothing).
			s.bigrams = append(s.bigrams, fnvAdd(prev*fnvPrime, tok))
		}
		prev, first = h, false
	}
	addFeatures(v, s.unigrams, 1)
	addFeatures(v, s.bigrams, bigramWeight)
	Normalize(v)
}

// addFeatures sorts hashes, counts each distinct one and adds its signed weight to its bucket.
func addFeatures(v []float32, hashes []uint64, weight float32) {
	slices.Sort(hashes)
	dims := uint64(len(v))
	for i := 0; i < len(hashes); {
		h := hashes[i]
		j := i + 1
		for j < len(hashes) && hashes[j] == h {
			j++
		}
		w := weight * tfWeight(j-i)
		b := (h & math.MaxUint32) * dims >> 32
		if h>>63 != 0 {
			v[b] -= w
		} else {
			v[b] += w
		}
		i = j
	}
}

// tfWeights[tf] is 1+ln(tf) as a float32, written out so that no libm difference between
// machines can change a vector.
var tfWeights = [...]float32{
	0, 1, 1.6931472, 2.0986123, 2.3862944, 2.609438, 2.7917595, 2.9459102, 3.0794415,
	3.1972246, 3.3025851, 3.3978953, 3.4849067, 3.5649493, 3.6390574, 3.7080503, 3.7725887,
	3.8332133, 3.8903718, 3.944439, 3.9957323, 4.0445223, 4.0910425, 4.135494, 4.178054,
	4.218876, 4.2580967, 4.295837, 4.3322043, 4.3672957, 4.4011974, 4.433987, 4.465736,
}

func tfWeight(tf int) float32 {
	if tf < len(tfWeights) {
		return tfWeights[tf]
	}
	return float32(1 + math.Log(float64(tf)))
}
