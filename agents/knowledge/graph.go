package knowledge

import (
	"context"
	"sort"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/mosaictype"
	"github.com/mosaicstack/mosaic/store"
)

// MaxDepth is the deepest neighbourhood a graph request may ask for.
const MaxDepth = 5

// Node (mosaictype.Node) is an entry in a graph answer.
type Node = mosaictype.Node

// Degree (mosaictype.Degree) counts links either way.
type Degree = mosaictype.Degree

// GraphStats (mosaictype.GraphStats) summarise a graph.
type GraphStats = mosaictype.GraphStats

// Graph (mosaictype.Graph) is nodes, edges and stats.
type Graph = mosaictype.Graph

// Graph builds the link graph of the entries user may see: the whole workspace (center ""), or
// the entries within depth links (either direction) of center.
func (s *Service) Graph(ctx context.Context, ws, user uuid.UUID, center string, depth int) (Graph, error) {
	if center != "" && (depth < 1 || depth > MaxDepth) {
		return Graph{}, invalid("depth: %d is not 1…%d", depth, MaxDepth)
	}
	nodes, edges, dangling, err := s.DB.GraphData(ctx, ws, user)
	if err != nil {
		return Graph{}, err
	}
	g := BuildGraph(nodes, edges)
	g.Stats.DanglingLinks = dangling
	if center == "" {
		return g, nil
	}
	var start uuid.UUID
	for _, n := range nodes {
		if n.Slug == center {
			start = n.ID
		}
	}
	if start == uuid.Nil {
		return Graph{}, store.ErrNotFound
	}
	sub := neighbourhood(g, start, depth)
	sub.Center, sub.Depth = center, depth
	sub.Stats.DanglingLinks = dangling
	return sub, nil
}

// BuildGraph makes the graph of nodes and edges with degrees and stats.
func BuildGraph(nodes []store.GraphNode, edges []store.GraphEdge) Graph {
	g := Graph{Nodes: make([]Node, len(nodes)), Edges: edges}
	if g.Edges == nil {
		g.Edges = []store.GraphEdge{}
	}
	idx := make(map[uuid.UUID]int, len(nodes))
	for i, n := range nodes {
		g.Nodes[i] = Node{GraphNode: n}
		idx[n.ID] = i
	}
	for _, e := range edges {
		g.Nodes[idx[e.Source]].Out++
		g.Nodes[idx[e.Target]].In++
	}
	g.Stats = stats(g.Nodes, len(edges))
	return g
}

func stats(nodes []Node, edges int) GraphStats {
	st := GraphStats{Nodes: len(nodes), Edges: edges, Orphans: []store.EntryRef{}, MostConnected: []Degree{}}
	byDegree := make([]Degree, 0, len(nodes))
	for _, n := range nodes {
		ref := store.EntryRef{ID: n.ID, Slug: n.Slug, Title: n.Title}
		if n.In+n.Out == 0 {
			st.OrphanCount++
			if len(st.Orphans) < 50 {
				st.Orphans = append(st.Orphans, ref)
			}
			continue
		}
		byDegree = append(byDegree, Degree{EntryRef: ref, Degree: n.In + n.Out})
	}
	sort.Slice(st.Orphans, func(i, j int) bool { return st.Orphans[i].Slug < st.Orphans[j].Slug })
	sort.Slice(byDegree, func(i, j int) bool {
		if byDegree[i].Degree != byDegree[j].Degree {
			return byDegree[i].Degree > byDegree[j].Degree
		}
		return byDegree[i].Slug < byDegree[j].Slug
	})
	st.MostConnected = append(st.MostConnected, byDegree[:min(10, len(byDegree))]...)
	return st
}

// neighbourhood keeps the nodes within depth links of start (following links both ways) and the
// edges among them.
func neighbourhood(g Graph, start uuid.UUID, depth int) Graph {
	adj := map[uuid.UUID][]uuid.UUID{}
	for _, e := range g.Edges {
		adj[e.Source] = append(adj[e.Source], e.Target)
		adj[e.Target] = append(adj[e.Target], e.Source)
	}
	dist := map[uuid.UUID]int{start: 0}
	frontier := []uuid.UUID{start}
	for d := 1; d <= depth && len(frontier) > 0; d++ {
		var next []uuid.UUID
		for _, id := range frontier {
			for _, n := range adj[id] {
				if _, seen := dist[n]; !seen {
					dist[n] = d
					next = append(next, n)
				}
			}
		}
		frontier = next
	}
	sub := Graph{Nodes: []Node{}, Edges: []store.GraphEdge{}}
	for _, n := range g.Nodes {
		if d, ok := dist[n.ID]; ok {
			n.Depth = d
			sub.Nodes = append(sub.Nodes, n)
		}
	}
	for _, e := range g.Edges {
		_, a := dist[e.Source]
		_, b := dist[e.Target]
		if a && b {
			sub.Edges = append(sub.Edges, e)
		}
	}
	sort.Slice(sub.Nodes, func(i, j int) bool {
		if sub.Nodes[i].Depth != sub.Nodes[j].Depth {
			return sub.Nodes[i].Depth < sub.Nodes[j].Depth
		}
		return sub.Nodes[i].Slug < sub.Nodes[j].Slug
	})
	sub.Stats = stats(sub.Nodes, len(sub.Edges))
	return sub
}
