package knowledge

import (
	"context"
	"sort"
	"sync"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/agents/knowledge/embed"
	"github.com/mosaicstack/mosaic/store"
)

// Semantic search on stock PostgreSQL ranks in Mosaic: each process keeps a workspace's vectors
// in memory (decoded, 1.5 KiB per entry at 384 dimensions) and reloads them when the workspace's
// embedding stamp moves. Ranking covers every vector; what the reader may see is then decided by
// PostgreSQL (RLS and the filters) for the best candidates only.

// lexicalRounds bounds the chunks the lexical embedder's semantic leg checks for a shared word
// (2*need+… doubling: the 1 500 most similar entries for a page of 20): a query whose words are
// rare among the most similar entries (hash collisions outrank them) is served by full text.
const lexicalRounds = 4

// maxCachedWorkspaces bounds the cache; beyond it an arbitrary workspace is dropped.
const maxCachedWorkspaces = 16

type vectorSet struct {
	stamp string
	ids   []uuid.UUID
	vecs  [][]float32
}

type vectorCache struct {
	mu   sync.Mutex
	sets map[vectorKey]*vectorSet
}

type vectorKey struct {
	ws    uuid.UUID
	model string
}

func (c *vectorCache) get(ctx context.Context, db *store.DB, ws uuid.UUID, model string) (*vectorSet, error) {
	stamp, err := db.EmbeddingStamp(ctx, ws, model)
	if err != nil {
		return nil, err
	}
	key := vectorKey{ws, model}
	c.mu.Lock()
	if set := c.sets[key]; set != nil && set.stamp == stamp {
		c.mu.Unlock()
		return set, nil
	}
	c.mu.Unlock()
	set := &vectorSet{stamp: stamp}
	err = db.EmbeddingVectors(ctx, ws, model, func(id uuid.UUID, b []byte) error {
		v, err := embed.Decode(b)
		if err != nil {
			return err
		}
		set.ids, set.vecs = append(set.ids, id), append(set.vecs, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[vectorKey]*vectorSet{}
	}
	if len(c.sets) >= maxCachedWorkspaces {
		for k := range c.sets {
			delete(c.sets, k)
			break
		}
	}
	c.sets[key] = set
	return set, nil
}

// rank scores every vector against q and returns the entries at or above floor, best first, then
// walks them in growing chunks through VisibleHits until it has offset+limit hits the reader may
// see (and, for a lexical embedder, that share a word with the query).
func (s *Service) rankInMemory(ctx context.Context, ws, user uuid.UUID, q []float32, floor float64, f store.SearchFilter, limit, offset int) ([]store.Hit, error) {
	set, err := s.vectors.get(ctx, s.DB, ws, s.Embedder.Name())
	if err != nil {
		return nil, err
	}
	order := make([]int, 0, 64)
	scores := make([]float64, len(set.ids))
	for i, v := range set.vecs {
		if scores[i] = float64(embed.Cosine(q, v)); scores[i] >= floor {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool {
		if scores[order[a]] != scores[order[b]] {
			return scores[order[a]] > scores[order[b]]
		}
		return set.ids[order[a]].String() < set.ids[order[b]].String()
	})
	need := offset + limit
	// Chunks double: most queries are served by the first, and one whose candidates PostgreSQL
	// mostly turns down (a lexical query's shared word, a filter) takes a few more, not hundreds.
	chunk := max(2*need, 100)
	var hits []store.Hit
	for round, start := 0, 0; start < len(order) && len(hits) < need; round, start, chunk = round+1, start+chunk, 2*chunk {
		if f.AnyWordOf != "" && round == lexicalRounds {
			break // the lexical leg's budget: full-text search finds the rest
		}
		part := order[start:min(len(order), start+chunk)]
		ids := make([]uuid.UUID, len(part))
		for i, o := range part {
			ids[i] = set.ids[o]
		}
		visible, err := s.DB.VisibleHits(ctx, ws, user, f, ids)
		if err != nil {
			return nil, err
		}
		byID := make(map[uuid.UUID]store.Hit, len(visible))
		for _, h := range visible {
			byID[h.ID] = h
		}
		for _, o := range part {
			if h, ok := byID[set.ids[o]]; ok {
				h.Score = scores[o]
				hits = append(hits, h)
			}
		}
	}
	if offset >= len(hits) {
		return nil, nil
	}
	return hits[offset:min(len(hits), need)], nil
}
