// The operators' console: the tasks and dead letters of one workspace, updated live from
// GET /v1/workspaces/{ws}/events/stream, and (admin token) streams, consumers, agents, the
// busiest workspaces and the federation peers. One page, routed by the address's fragment:
// #/tasks, #/tasks/ID, #/dead-letters, #/dead-letters/ID, #/schedules, #/system.
//
// Every piece of data enters the page as text (el() below appends strings as text nodes): nothing
// from the API is ever parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "mosaic.apikey"; // shared with the knowledge page
const WORKSPACE = "mosaic.workspace";
const STATUSES = ["queued", "scheduled", "running", "retrying", "succeeded", "dead", "cancelled"];
const TERMINAL = new Set(["succeeded", "dead", "cancelled"]);

// session: who is signed in and the workspace on show.
const session = { key: "", admin: false, ws: "", wsName: "" };

// ---- DOM and formatting ----

// el builds an element. attrs: "class", "dataset", on<event> handlers, else attributes (true: a
// boolean attribute; false, null, undefined: left out). children: nodes, or anything else as text.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const when = (ts) => (ts ? new Date(ts).toLocaleString() : "—");
const pct = (p) => `${Math.round((p || 0) * 100)}%`;
const enc = encodeURIComponent;
const clip = (s, n) => (s && s.length > n ? s.slice(0, n - 1) + "…" : s || "");
const pretty = (v) => JSON.stringify(v, null, 2);
const ago = (ts) => {
  const s = Math.max(0, Math.round((Date.now() - new Date(ts)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

function statusBadge(status) {
  return el("span", { class: STATUSES.includes(status) ? `status status-${status}` : "status" }, status);
}

function table(id, headings, rows) {
  return el("table", { id },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
}

// facts is a definition list of [term, value] pairs; null values are left out.
function facts(id, pairs) {
  return el("dl", { id, class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// ---- the API ----

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls the API with the session's key. A 401 signs out, showing the API's message.
async function api(method, path, body) {
  const opts = { method, headers: { Authorization: `Bearer ${session.key}` }, cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new APIError(res.status, data.error?.message || `HTTP ${res.status}`);
    if (res.status === 401) signOut(err.message);
    throw err;
  }
  return data;
}

const wsPath = (rest) => `/v1/workspaces/${enc(session.ws)}${rest}`;

// ---- signing in ----

// workspaceOfKey reads the workspace an API key names (mosk_<32 hex>_<secret>), or "".
function workspaceOfKey(key) {
  const m = /^mosk_([0-9a-f]{32})_/.exec(key);
  if (!m) return "";
  const h = m[1];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function signIn(key) {
  session.key = key;
  $("login-error").textContent = "";
  try {
    const ws = workspaceOfKey(key);
    if (ws) {
      session.admin = false;
      session.ws = ws;
      session.wsName = (await api("GET", wsPath(""))).name;
    } else {
      const list = (await api("GET", "/v1/workspaces")).workspaces;
      session.admin = true;
      const saved = sessionStorage.getItem(WORKSPACE);
      session.ws = list.some((w) => w.id === saved) ? saved : list[0]?.id || "";
      $("workspace").replaceChildren(...list.map((w) => el("option", { value: w.id, selected: w.id === session.ws }, `${w.name} (${w.id.slice(0, 8)})`)));
    }
  } catch (err) {
    if (err.status !== 401) showLogin(`sign in: ${err.message}`); // a 401 has signed out already
    return;
  }
  sessionStorage.setItem(KEY, key);
  showApp();
}

function showLogin(message) {
  $("login-view").hidden = false;
  $("view").hidden = $("nav").hidden = $("session").hidden = true;
  $("login-error").textContent = message || "";
  $("key").value = "";
  $("key").focus();
}

function signOut(message) {
  stopStream();
  stopViewTimers();
  session.key = "";
  session.admin = false;
  session.ws = session.wsName = "";
  sessionStorage.removeItem(KEY);
  showLogin(message);
}

function showApp() {
  $("login-view").hidden = true;
  $("view").hidden = $("nav").hidden = $("session").hidden = false;
  $("workspace").hidden = !session.admin;
  $("workspace-name").textContent = session.admin ? (session.key.startsWith("moso_") ? "operator key" : "admin token") : `${session.wsName} (${session.ws.slice(0, 8)})`;
  useWorkspace(session.ws);
}

function useWorkspace(ws) {
  session.ws = ws;
  if (ws) sessionStorage.setItem(WORKSPACE, ws);
  $("knowledge-link").href = ws ? `/console/knowledge?workspace=${enc(ws)}` : "/console/knowledge";
  startStream();
  render();
}

// ---- live updates: the workspace's domain events, read with fetch (EventSource cannot send an
// Authorization header) ----

let stream = null; // the AbortController of the current stream

function setLive(state, title) {
  $("live").dataset.state = state;
  $("live").textContent = state;
  $("live").title = title || "live updates (server-sent events)";
}

function stopStream() {
  if (stream) stream.abort();
  stream = null;
  setLive("off");
}

function startStream() {
  stopStream();
  if (!session.ws) return;
  const ctl = new AbortController();
  stream = ctl;
  readStream(ctl, 0, false);
}

async function readStream(ctl, failures, reconnect) {
  setLive(failures ? "reconnecting" : "connecting");
  let problem = "";
  try {
    const res = await fetch(wsPath("/events/stream"), {
      headers: { Authorization: `Bearer ${session.key}`, Accept: "text/event-stream" },
      signal: ctl.signal, cache: "no-store",
    });
    if (!res.ok) {
      const data = await res.json().catch(() => ({}));
      if (res.status === 401) return signOut(data.error?.message || "unauthenticated");
      throw new Error(data.error?.message || `HTTP ${res.status}`);
    }
    setLive("live");
    failures = 0;
    if (reconnect) current.refresh?.(); // catch up with what happened while disconnected
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    // The server sends a comment at least every 15 s: a silent minute is a dead connection.
    let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => reader.cancel(), 60000);
    };
    arm();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        arm();
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          dispatch(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
    problem = "the stream ended";
  } catch (err) {
    problem = err.message;
  }
  if (ctl.signal.aborted || stream !== ctl) return;
  setLive("reconnecting", problem);
  setTimeout(() => {
    if (stream === ctl) readStream(ctl, failures + 1, true);
  }, Math.min(30000, 1000 * 2 ** failures));
}

// dispatch parses one server-sent event ("event:" and "data:" lines; comments start with ':').
function dispatch(block) {
  let type = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return;
  let body = null;
  try {
    body = JSON.parse(data.join("\n"));
  } catch {
    body = null;
  }
  current.onEvent?.(type, body);
}

// ---- views ----

// eventDetail shows an event's detail: an attempt's error as text of its own (each failed
// attempt keeps its error there; the task keeps only the last), the rest as JSON.
function eventDetail(detail) {
  if (!detail) return [];
  const { error, ...rest } = detail;
  return [
    Object.keys(rest).length ? [" ", el("code", {}, JSON.stringify(rest))] : "",
    error != null ? el("pre", { class: "error" }, String(error)) : "",
  ];
}

// current is the view on show: refresh re-reads it, onEvent hears live events, timers are
// cleared when it goes, token tells its late answers that it is gone.
const current = { token: 0, refresh: null, onEvent: null, timers: [] };

function stopViewTimers() {
  current.timers.forEach(clearTimeout);
  current.timers = [];
}

function render() {
  if (!session.key) return;
  stopViewTimers();
  const token = ++current.token;
  current.refresh = current.onEvent = null;
  const alive = () => token === current.token;
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  document.querySelectorAll("#nav a[data-route]").forEach((a) => a.classList.toggle("active", a.dataset.route === parts[0]));
  const view = $("view");
  view.replaceChildren();
  if (parts[0] === "system") return systemPage(view, alive);
  if (parts[0] !== "tasks" && parts[0] !== "dead-letters" && parts[0] !== "schedules") {
    location.replace("#/tasks"); // renders again on hashchange
    return;
  }
  if (!session.ws) {
    view.append(el("p", { class: "note" }, "No workspace yet: create one with mosaic workspaces create NAME, then reload."));
    return;
  }
  if (parts[0] === "schedules") return schedulesPage(view, alive);
  if (parts[0] === "tasks") return parts[1] ? taskPage(view, parts[1], alive) : tasksPage(view, params, alive);
  return parts[1] ? deadLetterPage(view, parts[1], alive) : deadLettersPage(view, params, alive);
}

// pagedList shows a list read page by page (next_cursor), with a More button; refresh re-reads
// as many rows as are shown.
function pagedList(view, { id, headings, path, field, row, empty, alive }) {
  const note = el("p", { class: "note", role: "status" });
  const tbody = el("tbody");
  const more = el("button", { type: "button", hidden: true }, "More");
  view.append(note, el("table", { id }, el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))), tbody), more);
  let cursor = "";
  async function load(append) {
    const q = new URLSearchParams(path.query);
    q.set("limit", append ? 50 : Math.min(500, Math.max(50, tbody.rows.length)));
    if (append) q.set("cursor", cursor);
    try {
      const page = await api("GET", wsPath(`${path.base}?${q}`));
      if (!alive()) return;
      const rows = page[field].map(row);
      if (append) tbody.append(...rows);
      else tbody.replaceChildren(...rows);
      cursor = page.next_cursor || "";
      more.hidden = !cursor;
      note.textContent = tbody.rows.length ? "" : empty;
    } catch (err) {
      if (alive()) note.textContent = `${field.replace("_", " ")}: ${err.message}`;
    }
  }
  more.addEventListener("click", () => load(true));
  load(false);
  return () => load(false);
}

// SORTS are the task list's orders (value, label): GET …/tasks?sort=.
const SORTS = [["", "created"], ["updated", "last change"], ["finished", "finished (ended tasks)"], ["priority", "priority"]];

// SINCE are the time ranges of the task list's filter (label, seconds back).
const SINCE = [["any time", 0], ["last hour", 3600], ["last day", 86400], ["last week", 7 * 86400]];

// workspaceState shows, to the operator, whether the workspace's tasks run, with Pause or Resume.
function workspaceState(view, alive) {
  const line = el("p", { id: "workspace-state" });
  view.append(line);
  (async () => {
    try {
      const lim = await api("GET", wsPath("/limits"));
      if (!alive()) return;
      line.dataset.paused = lim.paused ? "true" : "false";
      line.replaceChildren(lim.paused ? "This workspace is paused: workers run none of its tasks. " : "This workspace's tasks run. ",
        ...(lim.paused
          ? operatorAction("Resume", "Resume this workspace?", wsPath("/resume"), { id: "workspace-resume" }, render)
          : operatorAction("Pause", "Pause this workspace? Workers leave its tasks queued until it is resumed.", wsPath("/pause"), { id: "workspace-pause" }, render)),
        lim.max_concurrency ? ` · at most ${lim.max_concurrency} at once` : "");
    } catch (err) {
      if (alive()) line.textContent = `limits: ${err.message}`;
    }
  })();
}

function tasksPage(view, params, alive) {
  const status = params.get("status") || "";
  const kind = params.get("kind") || "";
  const search = params.get("q") || "";
  const since = Number(params.get("since") || 0);
  const internal = params.get("internal") === "true";
  const oldest = params.get("order") === "oldest";
  const sort = params.get("sort") || "";
  const form = el("form", { id: "filters", class: "filters" },
    el("label", {}, "Find ", el("input", { id: "filter-q", type: "search", value: search, size: 30,
      placeholder: "task id, idempotency key or field=value",
      title: "A task id; an idempotency key; or an argument, as name=value (a dotted name reaches into objects; the value is JSON, or else text)" })),
    el("label", {}, "Status ", el("select", { id: "filter-status" },
      el("option", { value: "" }, "any"), STATUSES.map((s) => el("option", { value: s, selected: s === status }, s)))),
    el("label", {}, "Kind ", el("input", { id: "filter-kind", value: kind, placeholder: "demo.steps", size: 20 })),
    el("label", {}, "Created ", el("select", { id: "filter-since" },
      SINCE.map(([label, secs]) => el("option", { value: secs, selected: secs === since }, label)))),
    el("label", {}, "Sort by ", el("select", { id: "filter-sort" },
      SORTS.map(([v, label]) => el("option", { value: v, selected: v === sort }, label)))),
    el("label", {}, "Order ", el("select", { id: "filter-order" },
      el("option", { value: "" }, "newest first"), el("option", { value: "oldest", selected: oldest }, "oldest first"))),
    el("label", {}, el("input", { id: "filter-internal", type: "checkbox", checked: internal }), " system tasks"),
    el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if ($("filter-q").value.trim()) q.set("q", $("filter-q").value.trim());
    if ($("filter-status").value) q.set("status", $("filter-status").value);
    if ($("filter-kind").value.trim()) q.set("kind", $("filter-kind").value.trim());
    if (Number($("filter-since").value)) q.set("since", $("filter-since").value);
    if ($("filter-internal").checked) q.set("internal", "true");
    if ($("filter-sort").value) q.set("sort", $("filter-sort").value);
    if ($("filter-order").value) q.set("order", $("filter-order").value);
    location.hash = `#/tasks${q.size ? `?${q}` : ""}`;
  });
  view.append(el("h1", {}, "Tasks"), form);
  if (session.admin) workspaceState(view, alive);
  const query = {};
  if (search) query.q = search;
  if (status) query.status = status;
  if (kind) query.kind = kind;
  if (since) query.since = new Date(Date.now() - since * 1000).toISOString();
  if (internal) query.internal = "true";
  if (oldest) query.order = "oldest";
  if (sort) query.sort = sort;
  const filtered = search || status || kind || since;
  view.append(bulkActions("task-bulk", "#task-table", "task", () => current.refresh?.(), [
    ["Cancel", "cancel", (id) => api("POST", wsPath(`/tasks/${enc(id)}/cancel`))],
    ["Retry", "retry", (id) => api("POST", wsPath(`/tasks/${enc(id)}/retry`), {})],
    ["Delete", "delete", (id) => api("DELETE", wsPath(`/tasks/${enc(id)}`))],
  ]));
  const refresh = pagedList(view, {
    id: "task-table", alive, field: "tasks", path: { base: "/tasks", query },
    headings: ["", "Task", "Kind", "Priority", "Status", "Attempt", "Progress", "Created", "Updated", "Finished"],
    empty: filtered ? "No task matches these filters." : "No tasks yet: mosaic publish --kind demo.steps",
    row: (t) => el("tr", { dataset: { taskId: t.id, status: t.status } },
      el("td", {}, el("input", { type: "checkbox", class: "pick", value: t.id, "aria-label": `select ${t.id}` })),
      el("td", {}, el("a", { href: `#/tasks/${enc(t.id)}`, class: "mono" }, t.id)),
      el("td", {}, t.kind),
      el("td", {}, t.priority),
      el("td", {}, statusBadge(t.status)),
      el("td", {}, `${t.attempt} of ${t.max_attempts}`),
      el("td", {}, pct(t.progress)),
      el("td", {}, when(t.created_at)),
      el("td", {}, when(t.updated_at)),
      el("td", {}, when(t.finished_at))),
  });
  const soon = debounce(refresh, 250);
  current.refresh = refresh;
  current.onEvent = (type) => {
    if (type.startsWith("task.")) soon();
  };
}

function taskPage(view, id, alive) {
  const actions = el("p", { class: "actions" });
  const note = el("p", { class: "note", role: "status" });
  const details = el("div");
  const timeline = el("ol", { id: "timeline" });
  view.append(el("p", {}, el("a", { href: "#/tasks" }, "← Tasks")),
    el("h1", {}, "Task ", el("span", { class: "mono" }, id)), actions, note, details, el("h2", {}, "Timeline"), timeline);

  async function cancel(ev) {
    if (!confirm("Cancel this task? A running handler is stopped.")) return;
    ev.target.disabled = true;
    try {
      const res = await api("POST", wsPath(`/tasks/${enc(id)}/cancel`));
      note.textContent = `cancel: ${res.status}`;
    } catch (err) {
      note.textContent = `cancel: ${err.message}`;
    }
    load();
  }

  async function retry(ev) {
    if (!confirm("Run this task again, from its last checkpoint, under a new generation?")) return;
    ev.target.disabled = true;
    try {
      const res = await api("POST", wsPath(`/tasks/${enc(id)}/retry`), {});
      note.textContent = `retry: ${res.status} (generation ${res.generation})`;
    } catch (err) {
      note.textContent = `retry: ${err.message}`;
    }
    load();
  }

  async function runNow(ev) {
    ev.target.disabled = true;
    try {
      const res = await api("POST", wsPath(`/tasks/${enc(id)}/run`));
      note.textContent = `run now: ${res.status}`;
    } catch (err) {
      note.textContent = `run now: ${err.message}`;
    }
    load();
  }

  async function remove(ev) {
    if (!confirm("Delete this task and its events? Its dead letters stay.")) return;
    ev.target.disabled = true;
    try {
      await api("DELETE", wsPath(`/tasks/${enc(id)}`));
      location.hash = "#/tasks";
    } catch (err) {
      note.textContent = `delete: ${err.message}`;
      ev.target.disabled = false;
    }
  }

  let again; // the next read while the task runs
  async function load() {
    let t, evs;
    try {
      [t, evs] = await Promise.all([api("GET", wsPath(`/tasks/${enc(id)}`)), api("GET", wsPath(`/tasks/${enc(id)}/events`))]);
    } catch (err) {
      if (alive()) note.textContent = `task: ${err.message}`;
      return;
    }
    if (!alive()) return;
    details.replaceChildren(facts("task-facts", [
      ["Status", statusBadge(t.status)],
      ["Kind", t.kind],
      ["Priority", t.priority],
      ["Attempt", `${t.attempt} of ${t.max_attempts}` + (t.generation ? ` (generation ${t.generation})` : "")],
      ["Progress", [el("progress", { max: 1, value: t.progress || 0 }), ` ${pct(t.progress)}`, t.progress_message ? ` · ${t.progress_message}` : ""]],
      ["Checkpoint", t.checkpoint_seq ? `sequence ${t.checkpoint_seq}` : "none"],
      ["Worker", t.worker],
      ["Last error", t.last_error ? el("pre", { class: "error" }, t.last_error) : null],
      ["Result", t.result != null ? el("pre", { id: "task-result" }, pretty(t.result)) : null],
      ["Arguments", t.args != null ? el("pre", {}, pretty(t.args)) : null],
      ["Credentials", t.credentials?.length ? t.credentials.join(", ") : null],
      ["Created", when(t.created_at)],
      ["Run at", t.run_at ? when(t.run_at) : null],
      ["Started", when(t.started_at)],
      ["Updated", when(t.updated_at)],
      ["Finished", when(t.finished_at)],
      ["Cancel requested", t.cancel_requested_at ? when(t.cancel_requested_at) : null],
    ]));
    details.firstChild.dataset.status = t.status;
    actions.replaceChildren(...[TERMINAL.has(t.status)
      ? [t.status === "succeeded" ? "" : el("button", { id: "retry", type: "button", onclick: retry }, "Retry"), " ",
        el("button", { id: "delete", type: "button", onclick: remove }, "Delete")]
      : [t.status === "scheduled" ? [el("button", { id: "run-now", type: "button", onclick: runNow }, "Run now"), " "] : "",
        el("button", { id: "cancel", type: "button", onclick: cancel }, "Cancel")]].flat(Infinity));
    timeline.replaceChildren(...evs.events.map((e) => el("li", { dataset: { type: e.type } },
      el("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString()), " ",
      el("strong", {}, e.type),
      e.status ? ` → ${e.status}` : "",
      e.attempt ? ` · attempt ${e.attempt}` : "",
      e.worker ? ` · ${e.worker}` : "",
      ...eventDetail(e.detail))));
    // Progress and checkpoints raise no domain event: while the task runs, read it again.
    clearTimeout(again);
    if (!TERMINAL.has(t.status)) current.timers.push((again = setTimeout(() => alive() && load(), 2000)));
  }
  const soon = debounce(load, 100);
  current.refresh = load;
  current.onEvent = (type, ev) => {
    if (ev?.task_id === id) soon();
  };
  load();
}

// bulkActions are buttons that act on the rows selected in table (their input.pick): one request
// per row through the same route (and role) as one at a time; what failed is said, then done()
// reads the list again.
function bulkActions(id, table, noun, done, actions) {
  const note = el("span", { class: "note", role: "status" });
  const buttons = actions.map(([label, verb, act]) => el("button", { type: "button", class: `bulk-${verb}`, onclick: async () => {
    const ids = [...document.querySelectorAll(`${table} tbody input.pick:checked`)].map((c) => c.value);
    if (!ids.length || !confirm(`${label} ${ids.length} ${noun}(s)?`)) return;
    const failed = [];
    for (const one of ids) {
      try {
        await act(one);
      } catch (err) {
        failed.push(`${one.slice(0, 8)}…: ${err.message}`);
      }
    }
    note.textContent = ` ${label}: ${ids.length - failed.length} of ${ids.length} done` + (failed.length ? ` · ${failed.join("; ")}` : "");
    done();
  } }, `${label} selected`));
  return el("p", { class: "actions", id }, buttons.flatMap((b) => [b, " "]), note);
}

// DL_STATES are the dead-letter list's states ("": all but the discarded).
const DL_STATES = [["", "not discarded"], ["pending", "waiting (neither replayed nor discarded)"], ["replayed", "replayed"], ["discarded", "discarded"], ["all", "all"]];

function deadLettersPage(view, params, alive) {
  const reason = params.get("reason") || "";
  const kind = params.get("kind") || "";
  const state = params.get("state") || "";
  const form = el("form", { id: "dl-filters", class: "filters" },
    el("label", {}, "Reason ", el("input", { id: "dl-filter-reason", value: reason, placeholder: "permanent", size: 16 })),
    el("label", {}, "Kind ", el("input", { id: "dl-filter-kind", value: kind, placeholder: "demo.steps", size: 20 })),
    el("label", {}, "State ", el("select", { id: "dl-filter-state" },
      DL_STATES.map(([v, label]) => el("option", { value: v, selected: v === state }, label)))),
    el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, id] of [["reason", "dl-filter-reason"], ["kind", "dl-filter-kind"], ["state", "dl-filter-state"]]) {
      if ($(id).value.trim()) q.set(k, $(id).value.trim());
    }
    location.hash = `#/dead-letters${q.size ? `?${q}` : ""}`;
  });
  const query = {};
  if (reason) query.reason = reason;
  if (kind) query.kind = kind;
  if (state) query.state = state;
  // Bulk actions on the selected rows: one request per dead letter, through the same routes (and
  // roles) as one at a time; what failed is said.
  const bulk = bulkActions("dl-bulk", "#dead-letter-table", "dead letter", () => refresh(), [
    ["Replay", "replay", (id) => api("POST", wsPath(`/dead-letters/${enc(id)}/replay`), { fresh: false })],
    ["Discard", "discard", (id) => api("POST", wsPath(`/dead-letters/${enc(id)}/discard`))],
  ]);
  view.append(el("h1", {}, "Dead letters"), form, bulk);
  const refresh = pagedList(view, {
    id: "dead-letter-table", alive, field: "dead_letters", path: { base: "/dead-letters", query },
    headings: ["", "Dead letter", "Reason", "Kind", "Task", "Attempt", "Replays", "Created", "Error"],
    empty: reason || kind || state ? "No dead letter matches these filters." : "No dead letters.",
    row: (d) => el("tr", { dataset: { deadLetterId: d.id, discarded: d.discarded_at ? "true" : "false" } },
      el("td", {}, el("input", { type: "checkbox", class: "pick", value: d.id, "aria-label": `select ${d.id}` })),
      el("td", {}, el("a", { href: `#/dead-letters/${enc(d.id)}`, class: "mono" }, d.id.slice(0, 8) + "…")),
      el("td", {}, d.reason),
      el("td", {}, d.kind || "—"),
      el("td", {}, d.task_id ? el("a", { href: `#/tasks/${enc(d.task_id)}`, class: "mono" }, d.task_id.slice(0, 8) + "…") : "—"),
      el("td", {}, d.attempt),
      el("td", {}, d.replay_count + (d.discarded_at ? " · discarded" : "")),
      el("td", {}, when(d.created_at)),
      el("td", { title: d.error }, clip(d.error, 80))),
  });
  const soon = debounce(refresh, 250);
  current.refresh = refresh;
  current.onEvent = (type) => {
    if (type === "task.dead" || type === "message.dead") soon();
  };
}

// schedulesPage lists the workspace's schedules: when they run, their next runs, their last
// result, and Pause or Resume (a member's action, asked first).
function schedulesPage(view, alive) {
  const note = el("p", { class: "note", role: "status" });
  const tbody = el("tbody");
  view.append(el("h1", {}, "Schedules"), note,
    el("table", { id: "schedule-table" }, el("thead", {}, el("tr", {},
      ["Schedule", "Kind", "When", "Next runs", "Last run", "Last result", "Runs", "Skipped", ""].map((h) => el("th", {}, h)))), tbody),
    el("p", { class: "note" }, "Create one with mosaic schedules create NAME --kind KIND (--cron EXPR [--tz ZONE] | --every DUR)."));
  async function load() {
    try {
      const page = await api("GET", wsPath("/schedules"));
      if (!alive()) return;
      tbody.replaceChildren(...page.schedules.map((s) => {
        const name = s.name;
        const paused = !!s.paused_at;
        const next = s.next_runs || [];
        return el("tr", { dataset: { schedule: name, paused: paused ? "true" : "false" } },
          el("td", {}, name),
          el("td", {}, s.kind),
          el("td", {}, s.every ? `every ${s.every}` : `${s.cron} (${s.time_zone})`),
          el("td", { class: "next-runs", title: next.map(when).join("\n") }, paused ? "paused" : next.length ? when(next[0]) : "—"),
          el("td", {}, when(s.last_run_at)),
          el("td", { class: "last-result" }, s.last_task_id
            ? el("a", { href: `#/tasks/${enc(s.last_task_id)}` }, s.last_task_status ? statusBadge(s.last_task_status) : "deleted")
            : "—"),
          el("td", {}, s.runs),
          el("td", {}, s.skipped),
          el("td", {}, paused
            ? operatorAction("Resume", `Resume ${name}? It runs again from its next due time.`, wsPath(`/schedules/${enc(name)}/resume`), { class: "resume" }, load)
            : operatorAction("Pause", `Pause ${name}? No run fires until it is resumed.`, wsPath(`/schedules/${enc(name)}/pause`), { class: "pause" }, load)));
      }));
      note.textContent = page.schedules.length ? "" : "No schedules.";
    } catch (err) {
      if (alive()) note.textContent = `schedules: ${err.message}`;
    }
  }
  load();
  const soon = debounce(load, 500);
  current.refresh = load;
  current.onEvent = (type) => {
    if (type.startsWith("task.")) soon();
  };
}

// decodePayload shows a message body ([]byte: base64 in JSON) as JSON or text when it is UTF-8.
function decodePayload(b64) {
  if (!b64) return "(empty)";
  try {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    try {
      return pretty(JSON.parse(text));
    } catch {
      return text;
    }
  } catch {
    return `(binary, base64) ${b64}`;
  }
}

function deadLetterPage(view, id, alive) {
  const note = el("p", { class: "note", role: "status" });
  const details = el("div");
  const fresh = el("input", { type: "checkbox", id: "replay-fresh" });
  const replay = el("button", { id: "replay", type: "button" }, "Replay");
  const discard = el("button", { id: "discard", type: "button" }, "Discard");
  view.append(el("p", {}, el("a", { href: "#/dead-letters" }, "← Dead letters")),
    el("h1", {}, "Dead letter ", el("span", { class: "mono" }, id)),
    el("p", { class: "actions" }, replay, " ", el("label", {}, fresh, " from the beginning (drop the checkpoint)"), " ", discard),
    note, details);
  discard.addEventListener("click", async () => {
    if (!confirm("Discard this dead letter? It is kept, out of the list of those waiting.")) return;
    discard.disabled = true;
    try {
      await api("POST", wsPath(`/dead-letters/${enc(id)}/discard`));
      note.textContent = "Discarded.";
    } catch (err) {
      note.textContent = `discard: ${err.message}`;
      discard.disabled = false;
    }
    load();
  });
  replay.addEventListener("click", async () => {
    replay.disabled = true;
    try {
      const res = await api("POST", wsPath(`/dead-letters/${enc(id)}/replay`), { fresh: fresh.checked });
      note.replaceChildren(res.task_id
        ? ["Replayed: task ", el("a", { href: `#/tasks/${enc(res.task_id)}`, class: "mono" }, res.task_id), ` queued again (generation ${res.generation}).`]
        : "Replayed: the message was published again.");
    } catch (err) {
      note.textContent = `replay: ${err.message}`;
    }
    replay.disabled = false;
    load();
  });
  async function load() {
    let d;
    try {
      d = await api("GET", wsPath(`/dead-letters/${enc(id)}`));
    } catch (err) {
      if (alive()) note.textContent = `dead letter: ${err.message}`;
      return;
    }
    if (!alive()) return;
    discard.disabled = !!d.discarded_at;
    details.replaceChildren(facts("dead-letter-facts", [
      ["Reason", d.reason],
      ["Kind", d.kind],
      ["Task", d.task_id ? el("a", { href: `#/tasks/${enc(d.task_id)}`, class: "mono" }, d.task_id) : "—"],
      ["Attempt", d.attempt],
      ["Subject", el("span", { class: "mono" }, d.subject)],
      ["Stream sequence", d.stream_seq],
      ["Created", when(d.created_at)],
      ["Replays", d.replay_count ? `${d.replay_count}, last ${when(d.replayed_at)}` : "none"],
      ["Discarded", d.discarded_at ? `${when(d.discarded_at)}${d.discarded_by ? ` by ${d.discarded_by}` : ""}` : null],
      ["Error", el("pre", { class: "error" }, d.error)],
      ["Headers", d.headers && Object.keys(d.headers).length ? el("pre", {}, pretty(d.headers)) : null],
      ["Message", el("pre", {}, decodePayload(d.payload))],
    ]));
  }
  current.refresh = load;
  load();
}

// ---- streams, agents, workspaces (admin token) ----

function systemPage(view, alive) {
  view.append(el("h1", {}, "Streams, agents, workspaces and peers"));
  const sections = [
    ["minutes", "The last hour", "/v1/stats/minutes", minutesSection],
    ["overview", "Busiest workspaces", "/v1/overview", overviewSection],
    ["agents", "Agents", "/v1/agents", agentsSection],
    ["consumers", "Streams and consumers", "/v1/consumers", consumersSection],
    ["federation", "Federation", "/v1/federation/peers", federationSection],
  ];
  const bodies = sections.map(([id, title]) => {
    const body = el("div");
    view.append(el("section", { id, class: "panel" }, el("h2", {}, title), body));
    return body;
  });
  if (!session.admin) {
    bodies.forEach((b) => b.append(el("p", { class: "note needs-admin" },
      "This needs the operator's admin token: sign in with it (mosaic dev keeps it in .mosaic/admin.token).")));
    return;
  }
  let again; // the next read
  async function load() {
    await Promise.all(sections.map(async ([, title, path, draw], i) => {
      try {
        const data = await api("GET", path);
        if (alive()) bodies[i].replaceChildren(...draw(data));
      } catch (err) {
        if (!alive()) return;
        if (path === "/v1/federation/peers" && err.status === 404) {
          bodies[i].replaceChildren(el("p", { class: "note" }, "Federation is off on this instance (mosaic dev --federation=false)."));
        } else {
          bodies[i].replaceChildren(el("p", { class: "error" }, `${title}: ${err.message}`));
        }
      }
    }));
    clearTimeout(again);
    if (alive()) current.timers.push((again = setTimeout(load, 5000)));
  }
  current.refresh = load;
  load();
}

// ---- charts of the last hour (GET /v1/stats/minutes: what the workers measured, per minute) ----

const SVG = "http://www.w3.org/2000/svg";

// svg builds an SVG element (attrs as attributes; children: nodes or text).
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

// chartSeries is the series the charts show ("": every pool and priority), kept across reloads.
let chartSeries = "";

const seriesKey = (s) => `${s.pool}/${s.stream}/p${s.priority}`;
const hhmm = (ts) => new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
const msText = (ms) => (ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`);

function minutesSection(m) {
  const pick = el("select", { id: "chart-series", "aria-label": "series" },
    el("option", { value: "" }, "every pool and priority"),
    m.series.map((s) => el("option", { value: seriesKey(s), selected: seriesKey(s) === chartSeries }, seriesKey(s))));
  pick.addEventListener("change", () => {
    chartSeries = pick.value;
    current.refresh?.();
  });
  const s = m.series.find((x) => seriesKey(x) === chartSeries) || m.total;
  const done = s.succeeded.reduce((a, b) => a + b, 0);
  const failed = s.failed.reduce((a, b) => a + b, 0);
  return [
    el("p", { class: "filters" }, el("label", {}, "Show ", pick),
      el("span", { id: "chart-totals" }, `${done} succeeded, ${failed} failed in ${m.minutes.length} minutes`)),
    throughputChart(m.minutes, s),
    latencyChart(m.minutes, s, m.bounds_ms),
    el("p", { class: "note" }, "Handler runs as the workers counted them (each heartbeat writes its minute). Percentiles are read from buckets: a value is the bucket's upper bound."),
  ];
}

const CW = 720, CH = 150, PAD = { l: 56, r: 8, t: 10, b: 22 };

// throughputChart draws runs per minute: succeeded below, failed stacked above.
function throughputChart(minutes, s) {
  const n = minutes.length;
  const peak = Math.max(1, ...s.succeeded.map((v, i) => v + s.failed[i]));
  const w = (CW - PAD.l - PAD.r) / n;
  const y = (v) => PAD.t + (CH - PAD.t - PAD.b) * (1 - v / peak);
  const bars = [];
  for (let i = 0; i < n; i++) {
    const x = PAD.l + i * w;
    const ok = s.succeeded[i], bad = s.failed[i];
    const title = `${hhmm(minutes[i])}: ${ok} succeeded, ${bad} failed`;
    if (ok) bars.push(svg("rect", { class: "succeeded", x, y: y(ok), width: Math.max(1, w - 1), height: y(0) - y(ok) }, svg("title", {}, title)));
    if (bad) bars.push(svg("rect", { class: "failed", x, y: y(ok + bad), width: Math.max(1, w - 1), height: y(ok) - y(ok + bad) }, svg("title", {}, title)));
  }
  return el("figure", { class: "chart" }, el("figcaption", {}, "Runs per minute: ",
    el("span", { class: "key succeeded" }, "■ succeeded "), el("span", { class: "key failed" }, "■ failed")),
    svg("svg", { id: "chart-throughput", viewBox: `0 0 ${CW} ${CH}`, role: "img", "aria-label": "runs per minute" },
      axes(minutes, [[peak, String(peak)], [0, "0"]], y), bars));
}

// latencyChart draws queue wait and run time percentiles per minute on a log scale.
function latencyChart(minutes, s, bounds) {
  const n = minutes.length;
  const top = Math.log10(bounds[bounds.length - 1]);
  const y = (ms) => PAD.t + (CH - PAD.t - PAD.b) * (1 - Math.log10(Math.max(1, ms)) / top);
  const w = (CW - PAD.l - PAD.r) / n;
  // A line through the minutes with runs, and a dot on each (a lone minute shows as its dot).
  const line = (values, cls, label) => {
    let d = "";
    let pen = false;
    const dots = [];
    values.forEach((v, i) => {
      if (v < 0) {
        pen = false;
        return;
      }
      const x = (PAD.l + (i + 0.5) * w).toFixed(1), yy = y(v).toFixed(1);
      d += `${pen ? "L" : "M"}${x},${yy}`;
      pen = true;
      dots.push(svg("circle", { class: cls, cx: x, cy: yy, r: 2.5 }, svg("title", {}, `${hhmm(minutes[i])} ${label}: ≤ ${msText(v)}`)));
    });
    return d ? [svg("path", { class: cls, d }, svg("title", {}, label)), dots] : null;
  };
  const ticks = [1, 10, 100, 1000, 10000, 100000].filter((t) => t <= bounds[bounds.length - 1]).map((t) => [t, msText(t)]);
  return el("figure", { class: "chart" },
    el("figcaption", {}, "Per minute, log scale: ",
      [["wait p50", "queue wait p50"], ["wait p95", "p95"], ["run p50", "run time p50"], ["run p95", "p95"], ["run p99", "p99"]]
        .map(([cls, label]) => el("span", { class: `key ${cls}` }, `— ${label} `))),
    svg("svg", { id: "chart-latency", viewBox: `0 0 ${CW} ${CH}`, role: "img", "aria-label": "latency per minute" },
      axes(minutes, ticks, y),
      line(s.wait_p50_ms, "wait p50", "queue wait p50"), line(s.wait_p95_ms, "wait p95", "queue wait p95"),
      line(s.run_p50_ms, "run p50", "run time p50"), line(s.run_p95_ms, "run p95", "run time p95"),
      line(s.run_p99_ms, "run p99", "run time p99")));
}

// axes draws the y ticks ([value, label]) and the first and last minute.
function axes(minutes, ticks, y) {
  return [
    ticks.map(([v, label]) => [
      svg("line", { class: "grid", x1: PAD.l, x2: CW - PAD.r, y1: y(v), y2: y(v) }),
      svg("text", { x: PAD.l - 4, y: y(v) + 4, "text-anchor": "end" }, label)]),
    svg("text", { x: PAD.l, y: CH - 6 }, hhmm(minutes[0])),
    svg("text", { x: CW - PAD.r, y: CH - 6, "text-anchor": "end" }, hhmm(minutes[minutes.length - 1])),
  ];
}

function overviewSection(o) {
  const totals = STATUSES.map((s) => `${s} ${o.totals[s] ?? 0}`).join(" · ");
  const pick = (w) => el("button", { type: "button", class: "link", onclick: () => selectWorkspace(w.id) }, w.name);
  return [
    el("p", {}, `${o.workspaces} workspaces · ${totals} · dead in the last hour ${o.dead_last_hour}`),
    o.busiest.length
      ? table("busiest-table", ["Workspace", "Running", "Queued", "Retrying", "Dead (1 h)"],
        o.busiest.map((w) => el("tr", {}, el("td", {}, pick(w)), el("td", {}, w.running), el("td", {}, w.queued),
          el("td", {}, w.retrying), el("td", {}, w.dead_last_hour))))
      : el("p", { class: "note" }, "Every workspace is idle."),
  ];
}

function selectWorkspace(ws) {
  $("workspace").value = ws;
  useWorkspace(ws);
  location.hash = "#/tasks";
}

// operatorAction is a button that asks, then POSTs to path, and reads the page again; what
// failed is said beside it. Each such route records who asked; most take the admin token (a
// schedule's, a member's key).
function operatorAction(label, question, path, attrs = {}, after = () => current.refresh?.()) {
  const out = el("span", { class: "error" });
  const btn = el("button", { type: "button", ...attrs }, label);
  btn.addEventListener("click", async () => {
    if (!window.confirm(question)) return;
    btn.disabled = true;
    try {
      await api("POST", path, {});
      out.textContent = "";
      after();
    } catch (err) {
      out.textContent = ` ${err.message}`;
      btn.disabled = false;
    }
  });
  return [btn, out];
}

function agentsSection(a) {
  if (!a.agents.length) return [el("p", { class: "note" }, "No agent has run in the last hour.")];
  return [table("agent-table", ["Agent", "State", "Host", "Pools", "In flight", "Heartbeat", "Started", ""],
    a.agents.map((g) => el("tr", { dataset: { state: g.state, agentId: g.id } },
      el("td", {}, g.name),
      el("td", {}, g.state + (g.drain_requested_at ? " (drain requested)" : "")),
      el("td", {}, `${g.host} · pid ${g.pid}`),
      el("td", {}, (g.pools || []).join(", ")),
      el("td", {}, `${g.in_flight} of ${g.concurrency}`),
      el("td", {}, ago(g.heartbeat_at)),
      el("td", {}, when(g.started_at)),
      el("td", {}, g.state === "running" && !g.drain_requested_at
        ? operatorAction("Drain", `Drain ${g.name}? It takes no new task, finishes those it runs, then stops.`,
          `/v1/agents/${enc(g.id)}/drain`, { class: "drain" })
        : ""))))];
}

// poolActions are a Pause or Resume button per pool seen among the consumers (a pool is paused
// when its consumers are).
function poolActions(streams) {
  const pools = new Map();
  for (const s of streams) {
    for (const c of s.consumers) if (c.pool) pools.set(c.pool, pools.get(c.pool) || !!c.paused);
  }
  if (!pools.size) return [];
  return [el("p", { id: "pool-actions" }, "Pools: ", [...pools].map(([pool, paused]) => el("span", { class: "pool", dataset: { pool, paused } },
    el("strong", {}, pool), " ",
    paused
      ? operatorAction("Resume", `Resume pool ${pool}?`, `/v1/pools/${enc(pool)}/resume`, { class: "resume" })
      : operatorAction("Pause", `Pause pool ${pool}? Its workers take no new task until it is resumed.`, `/v1/pools/${enc(pool)}/pause`, { class: "pause" }),
    " ")))];
}

function consumersSection(rep) {
  const num = (v, digits = 0) => (v == null ? "—" : Number(v).toFixed(digits));
  const out = [];
  if (rep.dead_letters && Object.keys(rep.dead_letters).length) {
    out.push(el("p", {}, "Dead letters by reason: " + Object.entries(rep.dead_letters).map(([r, n]) => `${r} ${n}`).join(" · ")));
  }
  for (const w of rep.warnings || []) out.push(el("p", { class: "error" }, w));
  out.push(...poolActions(rep.streams));
  for (const s of rep.streams) {
    out.push(el("h3", {}, `${s.stream} · ${s.messages} messages`));
    if (s.error) out.push(el("p", { class: "error" }, s.error));
    if (!s.consumers.length) continue;
    const rows = s.consumers.map((c) => el("tr", {},
      el("td", { class: "mono" }, c.name), el("td", {}, c.pool || "—"), el("td", {}, c.band || "—"),
      el("td", {}, c.pending), el("td", {}, c.ack_pending), el("td", {}, c.redelivered), el("td", {}, c.waiting),
      el("td", {}, c.oldest_unacked_seconds == null ? "—" : `${num(c.oldest_unacked_seconds)}s`),
      el("td", {}, num(c.rate_per_second, 1)), el("td", {}, num(c.dead_letters)),
      el("td", {}, c.paused ? `until ${when(c.paused_until)}` : "")));
    const t = s.total;
    rows.push(el("tr", { class: "total" }, el("td", {}, "total"), el("td"), el("td"), el("td", {}, t.pending),
      el("td", {}, t.ack_pending), el("td", {}, t.redelivered), el("td", {}, t.waiting),
      el("td", {}, t.oldest_unacked_seconds == null ? "—" : `${num(t.oldest_unacked_seconds)}s`),
      el("td", {}, num(t.rate_per_second, 1)), el("td", {}, num(t.dead_letters)), el("td")));
    out.push(table(`consumers-${s.stream}`, ["Consumer", "Pool", "Band", "Pending", "Ack pending", "Redelivered",
      "Waiting", "Oldest unacked", "Rate /s", "Dead letters", "Paused"], rows));
  }
  return out;
}

function grantsText(grants) {
  if (!grants || !grants.length) return "—";
  return grants.map((g) => `${g.workspace}: ${g.capabilities.map((c) => (c === "tasks.publish" ? `${c}:${(g.task_kinds || []).join(",")}` : c)).join(" ")} (until ${when(g.expires_at)})`).join("; ");
}

function federationSection(f) {
  const me = f.instance;
  const out = [el("p", {}, `This instance: ${me.name} · key `, el("span", { class: "mono" }, me.public_key),
    ` · peers connect to ${me.leaf_url || "— (no listener)"}`)];
  if (!f.peers.length) {
    out.push(el("p", { class: "note" }, "No peers: mosaic federation connect URL asks another instance."));
    return out;
  }
  out.push(table("peer-table", ["Peer", "Direction", "Status", "Link", "Public key", "Granted here"],
    f.peers.map((p) => el("tr", { dataset: { status: p.status, link: p.connected ? "up" : "down" } },
      el("td", {}, p.name), el("td", {}, p.direction), el("td", {}, p.status),
      el("td", {}, p.connected ? "up" : "down"), el("td", { class: "mono" }, p.public_key),
      el("td", {}, grantsText(p.grants))))));
  return out;
}

// ---- start ----

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const key = $("key").value.trim();
  if (key) signIn(key);
});
$("signout").addEventListener("click", () => signOut(""));
$("workspace").addEventListener("change", () => useWorkspace($("workspace").value));
window.addEventListener("hashchange", render);

const saved = sessionStorage.getItem(KEY);
if (saved) signIn(saved);
else showLogin("");
