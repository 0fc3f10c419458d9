// The mullet dev dashboard: state, invocations and traces arrive as
// server-sent events; everything is drawn with textContent, never as HTML.
"use strict";

const $ = (sel, root) => (root || document).querySelector(sel);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const shortTime = (t) => (t ? new Date(t).toLocaleTimeString([], { hour12: false }) + "." + String(new Date(t).getMilliseconds()).padStart(3, "0") : "");
const json = (v) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v, null, 1));
const tag = (cls, text) => el("span", { class: "tag " + cls }, text || cls);

// The words that mark a key's value as a secret (as the server's list).
const secretWords = ["secret", "token", "password", "passwd", "authorization", "apikey", "api_key", "api-key", "signature", "credential", "cookie", "private"];
function redact(v) {
  if (Array.isArray(v)) return v.map(redact);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = secretWords.some((w) => k.toLowerCase().includes(w)) ? "[redacted]" : redact(x);
    return out;
  }
  if (typeof v === "string") {
    return v.replace(/\b(X-Amz-(?:Signature|Credential|Security-Token)|x-api-key|api_key|apikey)=[^&\s"'<>]*/gi, "$1=[redacted]")
      .replace(/\b(AWS4-HMAC-SHA256|Bearer|Basic)\s+[^\s"'<>]+/gi, "$1 [redacted]");
  }
  return v;
}
function redactText(s) {
  try { return JSON.stringify(redact(JSON.parse(s))); } catch (e) { return redact(s); }
}

let cfg = { webSocketUrl: "", canPush: false };
let state = null;
const invocations = [];
const traces = new Map(); // id -> summary
let selectedTrace = "";

function renderState() {
  const s = state;
  $("#storeinfo").textContent = s.error ? "store: " + s.error : "store read " + shortTime(s.at);
  const tb = $("#connections tbody");
  tb.replaceChildren(...s.connections.map((c) => el("tr", { dataset: { id: c.id } },
    el("td", { class: "mono" }, c.id),
    el("td", {}, shortTime(c.connectedAt)),
    el("td", { class: "mono" }, c.sourceIp),
    el("td", {}, c.identity || c.authorizer ? el("pre", {}, json(Object.assign({}, c.identity ? { identity: c.identity } : {}, c.authorizer ? { authorizer: c.authorizer } : {}))) : ""),
    el("td", { class: "mono" }, c.session || ""),
    el("td", {}, ...(c.groups || []).map((g) => tag("", g))),
    el("td", {}, el("pre", {}, json(c.state)), c.stateVersion ? el("span", { class: "dim" }, "v" + c.stateVersion) : null))));
  $("#connections .count").textContent = s.connections.length;

  $("#groups .list").replaceChildren(...s.groups.map((g) => el("div", { class: "item group", dataset: { name: g.name } },
    el("strong", {}, g.name), " ", el("span", { class: "dim" }, g.members.length + " member(s)"),
    el("div", { class: "mono" }, g.members.join(", ")),
    g.presence ? el("div", {}, "presence: ", ...g.presence.map((p) => tag(p.connectionId ? "connected" : "away", p.session + (p.data ? " " + json(p.data) : ""))))  : null)));
  $("#groups .count").textContent = s.groups.length;

  $("#barriers .list").replaceChildren(...s.barriers.map((b) => el("div", { class: "item barrier " + b.status, dataset: { key: b.key } },
    tag(b.status), el("strong", {}, b.key), " ", el("span", { class: "dim" }, b.arrivals.length + "/" + b.size + " arrived" + (b.status === "waiting" ? ", expires " + shortTime(b.expires) : "")),
    ...b.arrivals.map((a) => el("div", { class: "mono" }, shortTime(a.at) + " " + a.connectionId + (a.payload ? " " + json(a.payload) : ""))))));
  $("#barriers .count").textContent = s.barriers.filter((b) => b.status === "waiting").length + " waiting, " + s.barriers.filter((b) => b.status === "released").length + " released";

  $("#sessions .list").replaceChildren(...s.sessions.map((x) => el("div", { class: "item session" },
    tag(x.connected ? "connected" : "away"), el("span", { class: "mono" }, x.id), " ",
    x.connectionId ? el("span", { class: "dim mono" }, "on " + x.connectionId) : el("span", { class: "dim" }, "away until " + shortTime(x.expires)),
    (x.groups || []).length ? el("div", {}, "groups: ", ...x.groups.map((g) => tag("", g))) : null,
    x.state !== undefined ? el("pre", {}, json(x.state)) : null)));
  $("#sessions .count").textContent = s.sessions.length;

  $("#streams .list").replaceChildren(...s.streams.map((x) => el("div", { class: "item mono" }, x.name + "  epoch " + x.epoch + "  offset " + x.offset + "  (" + x.messages + " kept)")));
  $("#streams .count").textContent = s.streams.length;

  const sel = $("#push-conn");
  const keep = sel.value;
  sel.replaceChildren(...s.connections.map((c) => el("option", { value: c.id }, c.id + (c.groups ? "  [" + c.groups.join(", ") + "]" : ""))));
  if (keep && s.connections.some((c) => c.id === keep)) sel.value = keep;
}

function traceFor(inv) {
  for (const t of traces.values()) if ((t.requestIds || []).includes(inv.requestId)) return t.id;
  return "";
}

function renderLog() {
  const only = $("#onlyproblems").checked;
  const rows = [];
  for (let i = invocations.length - 1; i >= 0 && rows.length < 300; i--) {
    const v = invocations[i];
    if (only && v.outcome === "ok") continue;
    const tid = traceFor(v);
    rows.push(el("tr", { class: v.outcome, dataset: { requestId: v.requestId } },
      el("td", {}, shortTime(v.time)), el("td", { class: "mono" }, v.route || "-"), el("td", { class: "mono" }, v.connectionId),
      el("td", {}, v.outcome === "refused" ? v.status + " refused" : v.outcome === "panic" ? "PANIC" : v.status || "ERR"),
      el("td", { class: "nowrap" }, v.durationMs ? v.durationMs.toFixed(2) + " ms" : "-"),
      el("td", {}, el("pre", {}, v.error || "")),
      el("td", {}, tid ? el("a", { onclick: () => showTrace(tid) }, "trace") : "")));
  }
  $("#log tbody").replaceChildren(...rows);
  $("#log .count").textContent = invocations.length;
}

function renderTraces() {
  const list = [...traces.values()].sort((a, b) => new Date(b.start) - new Date(a.start)).slice(0, 200);
  $("#traces tbody").replaceChildren(...list.map((t) => el("tr", { class: "pick" + (t.id === selectedTrace ? " selected" : ""), dataset: { trace: t.id }, onclick: () => showTrace(t.id) },
    el("td", {}, shortTime(t.start)), el("td", {}, t.name), el("td", { class: "mono" }, t.route || ""), el("td", {}, t.spans + (t.errors ? " (" + t.errors + " err)" : "")), el("td", {}, t.durationMs.toFixed(2)))));
  $("#traces .count").textContent = traces.size;
}

async function showTrace(id) {
  selectedTrace = id;
  renderTraces();
  const resp = await fetch("api/trace?id=" + encodeURIComponent(id));
  const view = $("#trace-view");
  if (!resp.ok) { view.replaceChildren(el("p", { class: "dim" }, await resp.text())); return; }
  const spans = await resp.json();
  // Offsets and durations in microseconds, from the server.
  const total = Math.max(...spans.map((s) => s.offsetUs + s.durationUs), 1);
  const ms = (us) => (us / 1000).toFixed(us < 10000 ? 2 : 1) + " ms";
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s) => { let d = 0; for (let p = byId.get(s.parentSpanId); p && d < 20; p = byId.get(p.parentSpanId)) d++; return d; };
  const rows = [el("div", { class: "dim" }, "trace " + id + " · " + spans.length + " spans · " + ms(total))];
  for (const s of orderTree(spans, byId)) {
    const start = s.offsetUs, dur = s.durationUs;
    const kind = s.statusCode === 2 ? "err" : s.name.startsWith("mullet.store") ? "store" : /push|broadcast|release/.test(s.name) ? "push" : "";
    const bar = el("div", { class: "bar " + kind });
    bar.style.left = (100 * start / total) + "%";
    bar.style.width = (100 * dur / total) + "%";
    const attrs = el("pre", { class: "attrs", hidden: "" }, json(Object.assign({ spanId: s.spanId, service: s.service, status: s.statusCode === 2 ? "error: " + (s.statusMessage || "") : s.statusCode === 1 ? "ok" : "unset" }, s.attributes || {}, s.links ? { links: s.links.map((l) => l.traceId + "/" + l.spanId) } : {})));
    const row = el("div", { class: "span", dataset: { name: s.name }, onclick: () => { attrs.hidden = !attrs.hidden; } },
      el("div", { class: "label", title: s.name }, "\u00a0".repeat(depth(s) * 3) + s.name), el("div", { class: "track" }, bar), el("div", { class: "ms" }, ms(dur)));
    rows.push(row, attrs);
  }
  view.replaceChildren(...rows);
}

// orderTree lists spans depth first, children by start time.
function orderTree(spans, byId) {
  const kids = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId)) {
      if (!kids.has(s.parentSpanId)) kids.set(s.parentSpanId, []);
      kids.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  const out = [];
  const walk = (s) => { out.push(s); for (const k of (kids.get(s.spanId) || []).sort((a, b) => a.offsetUs - b.offsetUs)) walk(k); };
  roots.sort((a, b) => a.offsetUs - b.offsetUs).forEach(walk);
  return out;
}

function connectEvents() {
  const es = new EventSource("events");
  es.onopen = () => { $("#live").textContent = "live"; $("#live").className = "badge on"; };
  es.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "badge off"; };
  es.addEventListener("config", (e) => { cfg = JSON.parse(e.data); $("#wsurl").textContent = cfg.webSocketUrl; $("#push-send").disabled = !cfg.canPush; });
  es.addEventListener("state", (e) => { state = JSON.parse(e.data); renderState(); });
  es.addEventListener("invocations", (e) => { invocations.length = 0; invocations.push(...JSON.parse(e.data)); renderLog(); });
  es.addEventListener("invocation", (e) => { invocations.push(JSON.parse(e.data)); if (invocations.length > 500) invocations.shift(); renderLog(); });
  es.addEventListener("traces", (e) => {
    for (const t of JSON.parse(e.data)) traces.set(t.id, t);
    renderTraces(); renderLog();
    if (selectedTrace && JSON.parse(e.data).some((t) => t.id === selectedTrace)) showTrace(selectedTrace);
  });
}

let ws = null;
function wsStatus(text) { $("#ws-status").textContent = text; }
function addFrame(cls, text) {
  const li = el("li", { class: cls }, el("span", { class: "dim" }, shortTime(Date.now()) + (cls === "out" ? " sent " : " got ")), el("code", {}, redactText(text)));
  $("#received").prepend(li);
}
function setupForms() {
  $("#onlyproblems").addEventListener("change", renderLog);
  $("#ws-connect").addEventListener("click", () => {
    if (ws) return;
    ws = new WebSocket(cfg.webSocketUrl);
    wsStatus("connecting…");
    ws.onopen = () => { wsStatus("connected"); $("#ws-send").disabled = false; $("#ws-close").disabled = false; };
    ws.onmessage = (e) => addFrame("in", typeof e.data === "string" ? e.data : "(binary)");
    ws.onclose = (e) => { wsStatus("closed " + e.code + (e.reason ? " " + e.reason : "")); ws = null; $("#ws-send").disabled = true; $("#ws-close").disabled = true; };
  });
  $("#ws-close").addEventListener("click", () => ws && ws.close(1000));
  $("#ws-send").addEventListener("click", () => { if (ws) { ws.send($("#frame").value); addFrame("out", $("#frame").value); } });
  $("#push-send").addEventListener("click", async () => {
    const resp = await fetch("api/push", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ connectionId: $("#push-conn").value, data: $("#push-data").value }) });
    $("#push-result").textContent = resp.ok ? "pushed" : resp.status + ": " + (await resp.text());
  });
}

setupForms();
connectEvents();
