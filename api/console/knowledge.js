// The knowledge page: search (three modes, with snippets), the link graph laid out with a small
// force simulation, and an entry with its links, backlinks and versions when a node or a hit is
// clicked. It uses the console's session (the key in this tab's sessionStorage); the workspace
// is the key's, or for the admin token the console's choice (or ?workspace=). All text goes in
// through textContent: entry titles, bodies and snippets are never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let state = { ws: "", key: "", nodes: [], byId: new Map(), bySlug: new Map() };

async function api(path) {
  const res = await fetch(`/v1/workspaces/${encodeURIComponent(state.ws)}/knowledge${path}`, {
    headers: { Authorization: `Bearer ${state.key}` },
  });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) signedOut();
  if (!res.ok) throw new Error(body.error?.message || body.message || `HTTP ${res.status}`);
  return body;
}

function signedOut() {
  $("kb").hidden = true;
  $("signed-out").hidden = false;
}

// workspaceOfKey reads the workspace an API key names (mosk_<32 hex>_<secret>), or "".
function workspaceOfKey(key) {
  const m = /^mosk_([0-9a-f]{32})_/.exec(key);
  if (!m) return "";
  const h = m[1];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// textWithMarks appends s to parent, the parts between « and » (the search's highlights) in <mark>.
function textWithMarks(parent, s) {
  for (const [i, part] of s.split(/[«»]/).entries()) {
    if (!part) continue;
    if (i % 2) {
      const m = document.createElement("mark");
      m.textContent = part;
      parent.append(m);
    } else {
      parent.append(document.createTextNode(part));
    }
  }
}

function status(text) {
  $("status").textContent = text;
  $("status").hidden = !text;
}

// layout places nodes by repulsion between all pairs and springs along edges.
function layout(nodes, edges, width, height) {
  const n = nodes.length;
  nodes.forEach((d, i) => {
    const a = (2 * Math.PI * i) / Math.max(n, 1);
    const r = Math.min(width, height) * 0.35;
    d.x = width / 2 + r * Math.cos(a) + Math.random();
    d.y = height / 2 + r * Math.sin(a) + Math.random();
  });
  const index = new Map(nodes.map((d, i) => [d.id, i]));
  const links = edges.map((e) => [index.get(e.source), index.get(e.target)]).filter(([a, b]) => a !== undefined && b !== undefined);
  const k = Math.sqrt((width * height) / Math.max(n, 1));
  const rounds = n > 600 ? 60 : n > 200 ? 120 : 250;
  for (let round = 0; round < rounds; round++) {
    const t = (1 - round / rounds) * k * 0.5;
    const dx = new Float64Array(n), dy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let x = nodes[i].x - nodes[j].x, y = nodes[i].y - nodes[j].y;
        const d2 = x * x + y * y + 0.01, f = (k * k) / d2;
        dx[i] += x * f; dy[i] += y * f; dx[j] -= x * f; dy[j] -= y * f;
      }
    }
    for (const [a, b] of links) {
      const x = nodes[a].x - nodes[b].x, y = nodes[a].y - nodes[b].y;
      const d = Math.sqrt(x * x + y * y) + 0.01, f = d / k;
      dx[a] -= x * f; dy[a] -= y * f; dx[b] += x * f; dy[b] += y * f;
    }
    for (let i = 0; i < n; i++) {
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 0.01;
      nodes[i].x = Math.min(width - 20, Math.max(20, nodes[i].x + (dx[i] / d) * Math.min(d, t)));
      nodes[i].y = Math.min(height - 20, Math.max(20, nodes[i].y + (dy[i] / d) * Math.min(d, t)));
    }
  }
}

function draw(graph) {
  const svg = $("graph");
  svg.replaceChildren();
  const { width, height } = svg.getBoundingClientRect();
  const nodes = graph.nodes;
  layout(nodes, graph.edges, width, height);
  state.nodes = nodes;
  state.byId = new Map(nodes.map((d) => [d.id, d]));
  state.bySlug = new Map(nodes.map((d) => [d.slug, d]));
  for (const e of graph.edges) {
    const a = state.byId.get(e.source), b = state.byId.get(e.target);
    if (!a || !b) continue;
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", a.x); line.setAttribute("y1", a.y);
    line.setAttribute("x2", b.x); line.setAttribute("y2", b.y);
    svg.append(line);
  }
  for (const d of nodes) {
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("cx", d.x); c.setAttribute("cy", d.y);
    c.setAttribute("r", 4 + Math.min(10, Math.sqrt(d.in + d.out) * 2));
    c.dataset.slug = d.slug;
    if (d.in + d.out === 0) c.classList.add("orphan");
    if (graph.center && d.slug === graph.center) c.classList.add("center");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${d.title} (${d.slug})`;
    c.append(title);
    c.addEventListener("click", () => showEntry(d.slug));
    svg.append(c);
    // Every label, written towards the middle: a node near the right edge (the panel's side)
    // has its label on its left, so that none is cut off.
    const label = document.createElementNS(SVG, "text");
    const right = d.x > width / 2;
    label.setAttribute("x", right ? d.x - 8 : d.x + 8); label.setAttribute("y", d.y + 3);
    label.setAttribute("text-anchor", right ? "end" : "start");
    label.textContent = d.title;
    svg.append(label);
  }
  const s = graph.stats;
  const stats = $("stats");
  stats.replaceChildren();
  const p = document.createElement("p");
  p.textContent = `${s.nodes} entries · ${s.edges} links · ${s.orphan_count} orphans · ${s.dangling_links} dangling links`;
  stats.append(p);
  if (s.most_connected.length) {
    const h = document.createElement("h3");
    h.textContent = "Most connected";
    const ul = document.createElement("ul");
    for (const m of s.most_connected) ul.append(entryItem(m.slug, `${m.title} (${m.degree})`));
    stats.append(h, ul);
  }
}

function entryItem(slug, text, dangling) {
  const li = document.createElement("li");
  if (dangling) {
    li.className = "dangling";
    li.textContent = `${text} (no such entry yet)`;
    return li;
  }
  const a = document.createElement("a");
  a.className = "entry-link";
  a.textContent = text;
  a.addEventListener("click", () => showEntry(slug));
  li.append(a);
  return li;
}

async function showEntry(slug) {
  try {
    const [e, links, versions] = await Promise.all([
      api(`/entries/${encodeURIComponent(slug)}`),
      api(`/entries/${encodeURIComponent(slug)}/links`),
      api(`/entries/${encodeURIComponent(slug)}/versions`),
    ]);
    document.querySelectorAll("#graph circle.selected").forEach((c) => c.classList.remove("selected"));
    document.querySelector(`#graph circle[data-slug="${CSS.escape(slug)}"]`)?.classList.add("selected");
    $("entry").hidden = false;
    $("entry-title").textContent = e.title;
    $("entry-meta").textContent = `${e.slug} · ${e.status} · ${e.visibility} · version ${e.version}` +
      (e.tags.length ? ` · tags ${e.tags.join(", ")}` : "") + (e.aliases?.length ? ` · also ${e.aliases.join(", ")}` : "");
    const meta = $("entry-metadata");
    meta.replaceChildren();
    for (const [k, v] of Object.entries(e.metadata || {})) {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      dd.textContent = typeof v === "string" ? v : JSON.stringify(v);
      meta.append(dt, dd);
    }
    $("entry-body").textContent = e.body;
    $("entry-links").replaceChildren(...links.links.map((l) => entryItem(l.target_slug, l.label || l.target_title || l.target_slug, !l.target_id)));
    $("entry-backlinks").replaceChildren(...links.backlinks.map((b) => entryItem(b.slug, b.title)));
    $("entry-versions").replaceChildren(...versions.versions.map((v) => {
      const li = document.createElement("li");
      li.value = v.version;
      li.textContent = `${new Date(v.created_at).toLocaleString()} · ${v.title}` + (v.message ? ` — ${v.message}` : "");
      return li;
    }));
  } catch (err) {
    status(`entry ${slug}: ${err.message}`);
  }
}

async function load() {
  const center = $("center").value.trim();
  const q = center ? `?center=${encodeURIComponent(center)}&depth=${$("depth").value}` : "";
  status("loading…");
  try {
    const graph = await api(`/graph${q}`);
    status(graph.nodes.length ? "" : "No entries yet: mosaic knowledge put, or mosaic knowledge import DIR.");
    draw(graph);
  } catch (err) {
    status(`graph: ${err.message}`);
  }
}

async function search(ev) {
  ev.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const mode = $("mode").value;
  try {
    const res = await api(`/search?q=${encodeURIComponent(q)}&mode=${encodeURIComponent(mode)}&limit=20`);
    $("search-results").hidden = false;
    $("search-note").textContent = (res.results.length ? `${res.results.length}${res.next_offset != null ? "+" : ""} ${res.results.length === 1 && res.next_offset == null ? "entry matches" : "entries match"}` : "No entry matches") +
      ` (${res.mode}` + (res.embedder ? `, ${res.embedder}, similarity ≥ ${res.min_similarity}` : "") + ")" + (res.note ? `. ${res.note}` : "");
    $("results").replaceChildren(...res.results.map((h) => {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.className = "entry-link";
      a.textContent = h.title;
      a.addEventListener("click", () => showEntry(h.slug));
      const small = document.createElement("small");
      small.textContent = ` ${h.slug} · ${h.status}`;
      li.append(a, small);
      if (h.snippet) {
        const p = document.createElement("p");
        p.className = "snippet";
        textWithMarks(p, h.snippet);
        li.append(p);
      }
      return li;
    }));
  } catch (err) {
    $("search-results").hidden = false;
    $("search-note").textContent = `search: ${err.message}`;
    $("results").replaceChildren();
  }
}

$("kb-search").addEventListener("submit", search);
$("show-graph").addEventListener("click", load);

const params = new URLSearchParams(location.search);
// A key may come in the fragment (#key=…), which is never sent to a server; it moves to this
// tab's sessionStorage (where the console keeps its session) and leaves the address bar at once.
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("key")) {
  sessionStorage.setItem("mosaic.apikey", fragment.get("key"));
  history.replaceState(null, "", location.pathname + location.search);
}
state.key = sessionStorage.getItem("mosaic.apikey") || "";
state.ws = workspaceOfKey(state.key) || params.get("workspace") || sessionStorage.getItem("mosaic.workspace") || "";
$("center").value = params.get("center") || "";
if (!state.key || !state.ws) {
  signedOut();
} else {
  $("kb").hidden = false;
  $("kb-session").textContent = workspaceOfKey(state.key) ? `workspace ${state.ws.slice(0, 8)}` : `admin token · workspace ${state.ws.slice(0, 8)}`;
  load();
}
