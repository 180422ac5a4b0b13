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

// rank scores every vector against q and returns the entries best first, then walks them in
// chunks through VisibleHits until it has offset+limit hits the reader may see.
func (s *Service) rankInMemory(ctx context.Context, ws, user uuid.UUID, q []float32, f store.SearchFilter, limit, offset int) ([]store.Hit, error) {
	set, err := s.vectors.get(ctx, s.DB, ws, s.Embedder.Name())
	if err != nil {
		return nil, err
	}
	order := make([]int, len(set.ids))
	scores := make([]float64, len(set.ids))
	for i, v := range set.vecs {
		order[i], scores[i] = i, float64(embed.Cosine(q, v))
	}
	sort.Slice(order, func(a, b int) bool {
		if scores[order[a]] != scores[order[b]] {
			return scores[order[a]] > scores[order[b]]
		}
		return set.ids[order[a]].String() < set.ids[order[b]].String()
	})
	need := offset + limit
	chunk := max(2*need, 100)
	var hits []store.Hit
	for start := 0; start < len(order) && len(hits) < need; start += chunk {
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
