package agents

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/internal/pgtest"
	"github.com/mosaicstack/mosaic/store"
)

// TestACapRefreshBringsTheEntriesPastHalfTheirTTL: the read that refreshes one stale entry also
// refreshes those past half their ttl (and reads their current caps), and leaves younger ones:
// with tasks spread over many workspaces, their entries come to expire together. An entry under
// such a refresh answers its last value meanwhile.
func TestACapRefreshBringsTheEntriesPastHalfTheirTTL(t *testing.T) {
	ctx := context.Background()
	db := pgtest.DB(t)
	var wss []uuid.UUID
	for range 3 {
		w, err := db.CreateWorkspace(ctx, store.NewWorkspace{Name: "capcache-" + uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		wss = append(wss, w.ID)
	}
	stale, older, young := wss[0], wss[1], wss[2]
	const ttl = time.Minute
	c := newCapCache(db, ttl)
	now := time.Now()
	c.m[stale] = capEntry{cap: 1, at: now.Add(-2 * ttl)}
	c.m[older] = capEntry{cap: 1, at: now.Add(-ttl * 3 / 4)}
	c.m[young] = capEntry{cap: 1, at: now.Add(-ttl / 4)}
	for _, w := range wss {
		if err := db.SetMaxConcurrency(ctx, w, 7); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.get(ctx, stale); got != 7 {
		t.Fatalf("the stale entry's cap: %d, want 7", got)
	}
	if e := c.m[older]; e.cap != 7 || time.Since(e.at) > time.Minute/4 {
		t.Fatalf("the entry past half its ttl was not refreshed with it: %+v", e)
	}
	if e := c.m[young]; e.cap != 1 {
		t.Fatalf("the young entry was read again: %+v", e)
	}
	if got := c.get(ctx, young); got != 1 {
		t.Fatalf("a fresh entry is answered from the cache: %d, want 1", got)
	}
	// A stale entry that another delivery's refresh is reading again answers its last value at
	// once, rather than start a read of its own.
	c.m[young] = capEntry{cap: 1, at: now.Add(-2 * ttl), loading: true}
	if got := c.get(ctx, young); got != 1 {
		t.Fatalf("an entry being refreshed: %d, want its last value 1", got)
	}
}
