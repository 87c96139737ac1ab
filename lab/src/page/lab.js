// The lab's page: draws the frames of /api/events and sends the controls
// to /api/control. Every name from the topology is user text: it is only
// ever set as textContent or an attribute, never parsed as HTML.
"use strict";
const WINDOW_S = 60;
const COLORS = { queued: "#f9a825", working: "#1e88e5", ok: "#64b5f6",
  rejected: "#e53935", timeout: "#8e24aa", error: "#9e9e9e" };
const SVG = "http://www.w3.org/2000/svg";
let shape = null;
let done = [];          // [generator, due_s, latency_ms, code], the last WINDOW_S
let flight = [];        // [generator, due_s, state] in the last frame
let queues = [];        // [t, {service: queue}]
let actions = [];
let ghosts = [];        // [at_s, {service: predicted queue}], one per prediction
let predicted = null;
let now = 0;
let red = 0;
let resets = 0;

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function say(text, bad) {
  const p = document.getElementById("said");
  p.textContent = text;
  p.className = bad ? "bad" : "";
}

async function command(cmd) {
  const r = await fetch("api/control", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(cmd) });
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (r.ok) say(body.ok); else say(body.error || r.statusText, true);
  return r.ok;
}

function fmt(x, digits) {
  return x === null || x === undefined ? "–" : Number(x).toFixed(digits);
}

function buildTables() {
  const load = document.querySelector("#load tbody");
  for (const g of shape.generators) {
    const tr = el("tr", { "data-generator": g.name });
    tr.append(el("td", {}, g.name));
    const set = el("td");
    if (g.kind === "follow") {
      set.textContent = "(following)";
    } else {
      const what = g.kind === "open" ? "rate /s" : "clients";
      const slider = el("input", { type: "range", class: "slider", min: "0", max: "50", step: g.kind === "open" ? "0.5" : "1" });
      const level = el("input", { type: "number", class: "level", min: "0", step: "any", title: what });
      // Once the user starts on a level it is theirs until applied: the
      // frames no longer write the live one over it (a click on "set"
      // blurs the field first, and a frame may land in between).
      const touch = () => { tr.dataset.touched = "1"; };
      slider.oninput = () => { touch(); level.value = slider.value; };
      level.onfocus = touch;
      level.oninput = touch;
      const apply = el("button", { class: "apply" }, "set " + what);
      apply.onclick = () => {
        delete tr.dataset.touched;
        const v = level.value.trim();
        const path = "load." + g.name + (g.kind === "open" ? ".rate" : ".clients");
        command({ set: path, value: g.kind === "open" ? v + "/s" : v });
      };
      level.onkeydown = (e) => { if (e.key === "Enter") apply.click(); };
      set.append(slider, level, apply);
    }
    tr.append(set);
    const pause = el("td");
    if (g.kind !== "follow") {
      const b = el("button", { class: "pause" }, "pause");
      b.onclick = () => command(b.textContent === "pause" ? { pause: g.name } : { resume: g.name });
      pause.append(b);
    }
    tr.append(pause);
    for (const k of ["sent_s", "ok_s", "p50_ms", "p99_ms", "predicted", "in_flight", "rejected"]) tr.append(el("td", { "data-k": k }));
    load.append(tr);
  }
}

function buildServices() {
  const body = document.querySelector("#services tbody");
  for (const s of shape.services) {
    const tr = el("tr", { "data-service": s.name });
    tr.append(el("td", {}, s.name));
    const workers = el("input", { type: "number", class: "workers", min: "1", value: String(s.workers) });
    const queue = el("input", { type: "number", class: "queue", min: "0", placeholder: "unbounded",
      value: s.queue === null ? "" : String(s.queue) });
    const replicas = el("input", { type: "number", class: "replicas", min: "1", value: String(s.replicas) });
    // A service whose data changes: how often, as the format writes it.
    const updates = el("input", { class: "updates", size: "8", placeholder: s.changes ? "e.g. 300ms" : "-" });
    if (!s.changes) updates.disabled = true;
    const apply = el("button", { class: "apply" }, "set");
    apply.onclick = async () => {
      const path = "services." + s.name;
      if (s.changes && updates.value !== "") await command({ set: path + ".updates", value: updates.value });
      if (String(workers.value) !== String(s.workers) && await command({ set: path + ".workers", value: workers.value })) s.workers = Number(workers.value);
      if (queue.value !== "" && String(queue.value) !== String(s.queue) && await command({ set: path + ".queue", value: queue.value })) s.queue = Number(queue.value);
      if (String(replicas.value) !== String(s.replicas) && await command({ set: path + ".replicas", value: replicas.value })) s.replicas = Number(replicas.value);
    };
    const td = (x) => { const c = el("td"); c.append(x); return c; };
    tr.append(td(workers), td(queue), td(replicas), td(updates), td(apply));
    body.append(tr);
  }
}

function updateTables(f) {
  for (const tr of document.querySelectorAll("#load tbody tr")) {
    const g = f.generators[tr.dataset.generator];
    if (!g) continue;
    for (const td of tr.querySelectorAll("td[data-k]")) {
      const k = td.dataset.k;
      if (k === "predicted") {
        const p = predicted && predicted.generators && predicted.generators[tr.dataset.generator];
        td.textContent = p ? fmt(p.p50_ms, 0) + " / " + fmt(p.p99_ms, 0) : "–";
        continue;
      }
      td.textContent = k.endsWith("_s") ? fmt(g[k], 1) : k.endsWith("_ms") ? fmt(g[k], 1) : String(g[k]);
    }
    const level = tr.querySelector("input.level");
    if (level && !tr.dataset.touched && document.activeElement !== level) {
      level.value = g.level === null ? "" : String(Math.round(g.level * 100) / 100);
      tr.querySelector("input.slider").value = level.value;
    }
    const b = tr.querySelector("button.pause");
    if (b) b.textContent = g.paused ? "resume" : "pause";
    if (g.staleness) {
      const st = g.staleness;
      tr.querySelector("td").title = st.way + ": stale mean " + fmt(st.staleness_ms.mean, 0) + " ms, p99 "
        + fmt(st.staleness_ms.p99, 0) + " ms; versions seen " + st.versions_seen + ", missed " + st.versions_missed;
      tr.querySelector("td").textContent = tr.dataset.generator + " (" + st.way + ", stale p99 " + fmt(st.staleness_ms.p99, 0) + " ms)";
    }
  }
  const body = document.querySelector("#replicas tbody");
  const rows = new Map([...body.children].map((tr) => [tr.dataset.replica, tr]));
  // Replicas taken out (replicas down) leave the frames: their rows go too.
  const listed = new Set(f.replicas.map((r) => r.id));
  for (const [id, tr] of rows) if (!listed.has(id)) { tr.remove(); rows.delete(id); }
  for (const r of f.replicas) {
    let tr = rows.get(r.id);
    if (!tr) {
      tr = el("tr", { "data-replica": r.id });
      tr.append(el("td", {}, r.id));
      for (const k of ["queue", "busy", "arrived_s", "rejected_s"]) tr.append(el("td", { "data-k": k }));
      const td = el("td");
      const kill = el("button", { class: "kill" }, "kill");
      kill.onclick = () => command({ kill: r.id });
      const restart = el("button", { class: "restart" }, "restart");
      restart.onclick = () => command({ restart: r.id });
      td.append(kill, restart);
      tr.append(td);
      body.append(tr);
    }
    tr.className = r.alive ? "" : "dead";
    for (const td of tr.querySelectorAll("td[data-k]")) {
      const k = td.dataset.k;
      td.textContent = k === "busy" ? r.busy + "/" + r.workers : String(r[k]);
    }
  }
  const list = document.getElementById("actions");
  if (list.children.length !== f.actions.length) {
    list.replaceChildren(...f.actions.map((a) => el("li", {}, a.t_s.toFixed(1) + " s: " + a.what)));
  }
}

function drawGraph(f) {
  const svg = document.getElementById("graph");
  const W = 420, H = 300;
  const nodes = shape.generators.map((g) => "load:" + g.name).concat(shape.services.map((s) => s.name));
  const depth = new Map(nodes.map((n) => [n, n.startsWith("load:") ? 0 : 1]));
  for (let i = 0; i < nodes.length; i++) {
    for (const [a, b] of shape.edges) depth.set(b, Math.max(depth.get(b) || 1, (depth.get(a) || 0) + 1));
  }
  const cols = new Map();
  for (const n of nodes) { const d = depth.get(n); cols.set(d, (cols.get(d) || []).concat([n])); }
  const ncol = Math.max(...cols.keys()) + 1;
  const pos = new Map();
  for (const [d, ns] of cols) ns.forEach((n, i) => pos.set(n, [20 + d * (W - 130) / Math.max(1, ncol - 1), 30 + i * (H - 40) / ns.length]));
  const byService = new Map();
  for (const r of f.replicas) byService.set(r.service, (byService.get(r.service) || []).concat([r]));
  const kids = [];
  for (const [a, b] of shape.edges) {
    const [x1, y1] = pos.get(a), [x2, y2] = pos.get(b);
    kids.push(el("svg:line", { x1: x1 + 100, y1: y1 + 12, x2, y2: y2 + 12, stroke: "#90a4ae" }));
    // From a generator: what it sends; between services: what the callee
    // receives (from all its callers).
    const rate = a.startsWith("load:") ? (f.generators[a.slice(5)] || {}).sent_s || 0
      : (byService.get(b) || []).reduce((s, r) => s + r.arrived_s, 0);
    kids.push(el("svg:text", { x: (x1 + 100 + x2) / 2, y: (y1 + y2) / 2 + 8, "text-anchor": "middle", class: "edge" }, fmt(rate, 1) + "/s"));
  }
  for (const n of nodes) {
    const [x, y] = pos.get(n);
    if (n.startsWith("load:")) {
      const g = f.generators[n.slice(5)] || {};
      const box = el("svg:g", { class: "gen", "data-generator": n.slice(5) });
      box.append(el("svg:rect", { x, y, width: 100, height: 24, rx: 12, fill: "#eceff1", stroke: "#78909c" }),
        el("svg:text", { x: x + 6, y: y + 16 }, n.slice(5) + " " + fmt(g.sent_s, 1) + "/s"));
      kids.push(box);
      continue;
    }
    const reps = byService.get(n) || [];
    const q = reps.reduce((s, r) => s + r.queue, 0);
    const busy = reps.reduce((s, r) => s + r.busy, 0);
    const box = el("svg:g", { class: n === pinned ? "svc pinned" : "svc", "data-service": n, "data-queue": q, "data-busy": busy });
    box.append(el("svg:rect", { x, y, width: 100, height: 24 + 18 * reps.length, fill: "#fff", stroke: "#37474f" }),
      el("svg:text", { x: x + 6, y: y + 16, "font-weight": "bold" }, n));
    reps.forEach((r, i) => {
      const t = el("svg:text", { x: x + 6, y: y + 34 + 18 * i, fill: r.alive ? "#222" : "#c62828", class: "replica", "data-replica": r.id },
        r.alive ? "#" + r.id.split("#").pop() + " q " + r.queue + " busy " + r.busy : "#" + r.id.split("#").pop() + " ✖ dead");
      box.append(t);
      const bar = Math.min(90, r.queue * 6);
      box.append(el("svg:rect", { x: x + 6, y: y + 37 + 18 * i, width: bar, height: 3, fill: COLORS.queued }));
    });
    kids.push(box);
  }
  svg.replaceChildren(...kids);
}

// The window's left edge: the start of load until a full window has passed.
function windowStart() {
  return Math.max(0, now - WINDOW_S);
}

function marks(ctx, x0, w, h) {
  const from = windowStart();
  ctx.save();
  ctx.setLineDash([4, 3]);
  ctx.strokeStyle = "#455a64";
  ctx.fillStyle = "#455a64";
  ctx.font = "11px sans-serif";
  actions.forEach((a, i) => {
    if (a.t_s < from) return;
    const x = x0 + (a.t_s - from) / WINDOW_S * w;
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, h); ctx.stroke();
    // Labels stacked, so that actions close together stay readable.
    ctx.fillText(a.what, x + 3, 12 + 12 * (i % 4));
  });
  ctx.restore();
}

function drawDots() {
  const c = document.getElementById("dots");
  const ctx = c.getContext("2d");
  const W = c.width, H = c.height, x0 = 40, w = W - x0 - 5, h = H - 20;
  ctx.clearRect(0, 0, W, H);
  const from = windowStart();
  done = done.filter((d) => d[1] >= from);
  let top = 100;
  for (const d of done) top = Math.max(top, d[2]);
  for (const d of flight) top = Math.max(top, (now - d[1]) * 1000);
  top = Math.ceil(top / 100) * 100;
  const X = (t) => x0 + (t - from) / WINDOW_S * w;
  const Y = (ms) => h - ms / top * (h - 10);
  dotsAt = { X, Y };
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.fillText(top + " ms", 2, 12); ctx.fillText("0", 2, h);
  ctx.fillText(from.toFixed(0) + " s", x0, H - 4); ctx.fillText((from + WINDOW_S).toFixed(0) + " s", W - 40, H - 4);
  red = 0;
  for (const d of done) {
    if (d[3] === "rejected") red++;
    ctx.fillStyle = COLORS[d[3]];
    ctx.beginPath(); ctx.arc(X(d[1]), Y(d[2]), 2.5, 0, 7); ctx.fill();
  }
  for (const d of flight) {
    ctx.fillStyle = COLORS[d[2]];
    ctx.beginPath(); ctx.arc(X(d[1]), Y((now - d[1]) * 1000), 3, 0, 7); ctx.fill();
  }
  // The dots whose chains are open, ringed.
  ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
  for (const o of opened) {
    if (o.t < from) continue;
    ctx.beginPath(); ctx.arc(X(o.t), Y(o.ms), 5, 0, 7); ctx.stroke();
  }
  ctx.lineWidth = 1;
  marks(ctx, x0, w, h);
  c.dataset.red = String(red);
  c.dataset.shown = String(done.length + flight.length);
}

function drawQueues() {
  const c = document.getElementById("queues");
  const ctx = c.getContext("2d");
  const W = c.width, H = c.height, x0 = 40, w = W - x0 - 5, h = H - 15;
  ctx.clearRect(0, 0, W, H);
  const from = windowStart();
  queues = queues.filter((q) => q[0] >= from);
  let top = 5;
  for (const q of queues.concat(ghosts)) for (const v of Object.values(q[1])) top = Math.max(top, Math.ceil(v));
  const X = (t) => x0 + (t - from) / WINDOW_S * w;
  const Y = (v) => h - v / top * (h - 10);
  ctx.fillStyle = "#555"; ctx.font = "11px sans-serif"; ctx.fillText(String(top), 2, 12); ctx.fillText("0", 2, h);
  const palette = ["#f9a825", "#00897b", "#5e35b1", "#6d4c41", "#d81b60"];
  shape.services.forEach((s, i) => {
    ctx.strokeStyle = palette[i % palette.length];
    ctx.beginPath();
    queues.forEach((q, j) => { const v = q[1][s.name] || 0; if (j) ctx.lineTo(X(q[0]), Y(v)); else ctx.moveTo(X(q[0]), Y(v)); });
    ctx.stroke();
    ctx.save();
    ctx.setLineDash([6, 4]);
    ctx.globalAlpha = 0.5;
    ctx.beginPath();
    ghosts.forEach((g, j) => {
      const v = g[1][s.name];
      if (v === undefined) return;
      const x1 = X(Math.max(from, g[0])), x2 = X(j + 1 < ghosts.length ? ghosts[j + 1][0] : now);
      ctx.moveTo(x1, Y(v)); ctx.lineTo(x2, Y(v));
    });
    ctx.stroke();
    ctx.restore();
    ctx.fillStyle = ctx.strokeStyle; ctx.fillText(s.name, W - 120, 12 + 12 * i);
  });
  marks(ctx, x0, w, h);
}

function onFrame(f) {
  now = f.t;
  if (f.resets !== resets) {
    resets = f.resets;
    done = []; queues = []; ghosts = ghosts.slice(-1);
    if (ghosts.length) ghosts[0][0] = now;
  }
  document.getElementById("clock").textContent = now.toFixed(1) + " s";
  for (const d of f.dots) done.push(d);
  flight = f.flight;
  actions = f.actions;
  const q = {};
  for (const r of f.replicas) q[r.service] = (q[r.service] || 0) + r.queue;
  queues.push([now, q]);
  if (f.predicted && (!predicted || predicted.at_s !== f.predicted.at_s)) {
    predicted = f.predicted;
    const g = {};
    for (const [name, v] of Object.entries(predicted.services || {})) g[name] = v.queue;
    ghosts.push([predicted.at_s, g]);
    if (ghosts.length > 1000) ghosts.shift();
    const p = document.getElementById("predicted");
    p.textContent = predicted.error ? "prediction: " + predicted.error
      : "predicted at " + predicted.at_s.toFixed(1) + " s in " + (predicted.took_s * 1000).toFixed(0) + " ms"
        + (predicted.left_out.length ? "; not predicted: " + predicted.left_out.join(", ") : "");
  }
  ghosts = ghosts.filter((g, j) => j + 1 >= ghosts.length || ghosts[j + 1][0] >= windowStart());
  const s = f.sampled;
  document.getElementById("sampled").textContent = s.shown < s.finished
    ? "(an even sample: " + s.shown + " of " + s.finished + " answers in the last frame)" : "";
  updateTables(f);
  drawGraph(f);
  drawDots();
  drawQueues();
  if (f.ended) status("ended", "the lab has stopped: its run folder is written");
}

function status(state, text) {
  const s = document.getElementById("status");
  s.dataset.state = state;
  s.textContent = text;
}

async function start() {
  const r = await fetch("api/state");
  if (!r.ok) { status("lost", "refused: " + r.status); return; }
  const st = await r.json();
  shape = st.topology;
  document.getElementById("name").textContent = shape.name;
  document.title = "topolab lab: " + shape.name;
  const target = document.getElementById("fault-json");
  target.value = JSON.stringify({ target: shape.services[0] ? shape.services[0].name : "", slow: "3x", for: "5s" });
  buildTables();
  buildServices();
  const events = new EventSource("api/events");
  events.onopen = () => status("live", "live");
  events.onerror = () => status("lost", "stream lost, retrying…");
  events.onmessage = (e) => onFrame(JSON.parse(e.data));
}

document.getElementById("stop").onclick = () => command({ stop: true });
document.getElementById("reset").onclick = () => command({ reset: true });
document.getElementById("fault").onsubmit = (e) => {
  e.preventDefault();
  let f;
  try { f = JSON.parse(document.getElementById("fault-json").value); } catch (err) { say("not JSON: " + err.message, true); return; }
  command({ fault: f });
};
start();

// A clicked dot opens its request chain (GET /api/chain/ID, drawn by
// TopolabChains, the report's waterfall); shift-click sets a second beside
// it. A hop's "queue then" pins that replica on the graph.
let dotsAt = null;
let opened = [];
function openChain(e) {
  if (!dotsAt) return;
  const c = document.getElementById("dots");
  const r = c.getBoundingClientRect();
  const px = (e.clientX - r.left) * c.width / r.width, py = (e.clientY - r.top) * c.height / r.height;
  let best = null, bestD = 64;
  for (const d of done) {
    const dx = dotsAt.X(d[1]) - px, dy = dotsAt.Y(d[2]) - py;
    if (dx * dx + dy * dy < bestD) { bestD = dx * dx + dy * dy; best = d; }
  }
  if (!best) return;
  const item = {
    head: shape.generators[best[0]].name + " · sent at " + best[1].toFixed(2) + " s · " + best[2].toFixed(1) + " ms · " + best[3],
    id: best[4], t: best[1], ms: best[2], chain: null,
    note: best[4] ? "Its spans are not in traces.jsonl yet (the collector writes them about once a second): click it again in a moment."
      : "Not traced: settings.trace sampled this request out; the figures above are what the generator saw.",
  };
  opened = e.shiftKey && opened.length ? [opened[opened.length - 1], item] : [item];
  const show = () => TopolabChains.show(document.getElementById("chain-panel"), opened, pin);
  show();
  if (!item.id) return;
  fetch("api/chain/" + item.id, { credentials: "same-origin" })
    .then((res) => res.ok ? res.json() : null)
    .then((body) => { if (body) { item.chain = body.chain; show(); } });
}
let pinned = null;
function pin(proc, t, queueUs) {
  pinned = TopolabChains.service(proc);
  say(proc + " at " + t.toFixed(2) + " s" + (queueUs > 0 ? ": waited " + (queueUs / 1000).toFixed(1) + " ms in its queue" : ""));
}
document.getElementById("dots").addEventListener("click", openChain);

