// Unit tests of mullet.js under node's own test runner, with a fake
// WebSocket and a fake clock: node --test client/browser/mullet_test.mjs
// (go test ./client/browser runs them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { MulletClient, MulletError, Streams, backoff } from "./mullet.js";

// FakeClock runs timers when advance moves time past them.
class FakeClock {
  t = 1_000_000;
  seq = 0;
  timers = new Map();
  now = () => this.t;
  setTimeout = (fn, ms) => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn, id });
    return id;
  };
  clearTimeout = (id) => {
    this.timers.delete(id);
  };
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = [...this.timers.values()].filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

const flush = () => new Promise((r) => setImmediate(r));

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const sha = (s) => b64url(createHash("sha256").update(s).digest());

// fakeCrypto digests synchronously (a resolved promise), so a flush of
// microtasks completes an attempt.
const fakeCrypto = {
  getRandomValues: (a) => webcrypto.getRandomValues(a),
  subtle: { digest: async (_alg, data) => createHash("sha256").update(data).digest().buffer },
};

// FakeServer hands out FakeSockets and records them.
function fakeServer() {
  const sockets = [];
  class FakeSocket {
    readyState = 0;
    binaryType = "blob";
    onopen = null;
    onclose = null;
    onerror = null;
    onmessage = null;
    sent = [];
    closed = null;
    constructor(url) {
      this.url = new URL(url);
      sockets.push(this);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error("send on a socket that is not open");
      this.sent.push(JSON.parse(data));
    }
    close(code, reason) {
      this.closed = { code, reason };
      this.readyState = 3;
    }
    // Server side.
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    fail(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
    drop(code = 1001) {
      this.readyState = 3;
      this.onclose?.({ code, reason: "" });
    }
    receive(frame) {
      this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }
    syncs() {
      return this.sent.filter((f) => f.mullet === "sync");
    }
    // answer answers the last sync with synced.
    answer(groups = {}, extra = {}) {
      const s = this.syncs().at(-1);
      this.receive({ mullet: "synced", session: this.url.searchParams.get("mullet_session"), groups, $rid: s.$rid, ...extra });
    }
  }
  return { sockets, FakeSocket, last: () => sockets.at(-1) };
}

function setup(options = {}) {
  const clock = new FakeClock();
  const server = fakeServer();
  const events = [];
  const client = new MulletClient("ws://127.0.0.1:1/local", {
    WebSocket: server.FakeSocket,
    clock,
    random: () => 0,
    crypto: fakeCrypto,
    ...options,
  });
  for (const type of ["state", "message", "durable", "discontinuity", "presence", "synced", "sessionlost", "error"]) {
    client.on(type, (ev) => events.push({ type, ev }));
  }
  const of = (type) => events.filter((e) => e.type === type).map((e) => e.ev);
  return { clock, server, client, events, of };
}

const msg = (group, offset, text, epoch = "e1") => ({ mullet: "msg", group, epoch, offset, data: { text } });

test("backoff doubles from min to max, drawn from the upper half", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoff(n, 100, 1000, () => 0)), [50, 100, 200, 400, 500, 500]);
  assert.equal(backoff(1, 100, 1000, () => 0.5), 75);
  assert.ok(backoff(9, 100, 1000, () => 0.5) <= 1000);
});

test("reconnect: at once after a cut, then with doubling, capped backoff", async () => {
  const { clock, server, client, of } = setup({ minBackoff: 100, maxBackoff: 400 });
  await flush();
  assert.equal(server.sockets.length, 1);
  server.last().open();
  assert.equal(client.state, "open");
  server.last().drop(1001);
  await flush();
  assert.equal(server.sockets.length, 2, "the first attempt after a cut is at once");
  assert.equal(client.state, "reconnecting");
  const waits = [];
  for (let i = 0; i < 5; i++) {
    const before = clock.t;
    server.last().fail();
    const n = server.sockets.length;
    // random() = 0: each wait is the lower end of its window.
    for (;;) {
      await clock.advance(10);
      if (server.sockets.length > n) break;
      assert.ok(clock.t - before < 10_000, "no new attempt");
    }
    waits.push(clock.t - before);
  }
  assert.deepEqual(waits, [50, 100, 200, 200, 200]);
  server.last().open();
  assert.equal(client.state, "open");
  const states = of("state").map((s) => s.state + (s.attempt ? ":" + s.attempt : ""));
  assert.deepEqual(states, ["open", "reconnecting", "reconnecting:1", "reconnecting:2", "reconnecting:3", "reconnecting:4", "reconnecting:5", "open"]);
  assert.equal(client.stats.reconnects, 1);
  assert.equal(of("state").at(-1).resumed, true);
  client.close();
  assert.equal(client.state, "closed");
});

test("connect timeout: an attempt that never opens is abandoned and retried", async () => {
  const { clock, server } = setup({ connectTimeout: 1000 });
  await flush();
  await clock.advance(999);
  assert.equal(server.sockets.length, 1);
  await clock.advance(1);
  assert.ok(server.sockets[0].closed, "the stuck attempt was closed");
  await clock.advance(50);
  assert.equal(server.sockets.length, 2);
});

test("queue: frames sent while disconnected are written after the sync, in order; a full queue throws", async () => {
  const { server, client } = setup({ sendQueue: 3 });
  client.send({ action: "say", text: "1" });
  client.send({ action: "say", text: "2" });
  client.send("three");
  assert.equal(client.queued, 3);
  assert.throws(() => client.send({ action: "say", text: "4" }), (err) => err instanceof MulletError && err.code === "queue_full" && /send queue is full \(3 frames\)/.test(err.message));
  const late = client.request({ action: "who" });
  await assert.rejects(late, (err) => err.code === "queue_full");
  await flush();
  const ws = server.last();
  ws.sent = [];
  ws.send = function (d) {
    this.sent.push(d);
  };
  ws.open();
  assert.equal(JSON.parse(ws.sent[0]).mullet, "sync");
  assert.deepEqual(ws.sent.slice(1), ['{"action":"say","text":"1"}', '{"action":"say","text":"2"}', "three"]);
  assert.equal(client.queued, 0);
  client.send({ action: "say", text: "now" });
  assert.equal(ws.sent.at(-1), '{"action":"say","text":"now"}', "written at once while open");
  client.close();
});

test("request: reply by $rid, $reply unwrapped, error frames, timeout, connection lost", async () => {
  const { clock, server, client } = setup({ requestTimeout: 1000 });
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer();
  const a = client.request({ action: "nick", nick: "ann" });
  const b = client.request({ action: "echo" });
  const c = client.request({ action: "bad" });
  const [ra, rb, rc] = ws.sent.slice(-3);
  assert.deepEqual(Object.keys(ra)[0], "$rid", "$rid comes first");
  // Replies overtake each other: matched by $rid.
  ws.receive({ $rid: rc.$rid, message: "Invalid request body", connectionId: "c1", requestId: "q1" });
  ws.receive({ $rid: rb.$rid, $reply: "plain text" });
  ws.receive({ $rid: ra.$rid, type: "nick", nick: "ann" });
  assert.deepEqual(await a, { $rid: ra.$rid, type: "nick", nick: "ann" });
  assert.equal(await b, "plain text");
  await assert.rejects(c, (err) => err.code === "reply" && err.reply.message === "Invalid request body");

  const slow = client.request({ action: "slow" });
  let settled = false;
  slow.catch(() => {}).finally(() => (settled = true));
  await clock.advance(999);
  assert.equal(settled, false);
  await clock.advance(1);
  await assert.rejects(slow, (err) => err instanceof MulletError && err.code === "request_timeout");
  const custom = assert.rejects(client.request({ action: "slow" }, { timeout: 50 }), (err) => err.code === "request_timeout");
  await clock.advance(50);
  await custom;

  const lost = client.request({ action: "slow" });
  ws.drop();
  await assert.rejects(lost, (err) => err.code === "connection_lost");
  await assert.rejects(client.request(["not", "an", "object"]), (err) => err.code === "not_object");

  // A request queued while disconnected is written on the next
  // connection, and a timed-out one is never written.
  const queued = client.request({ action: "later" }, { timeout: 5000 });
  const dropped = assert.rejects(client.request({ action: "never" }, { timeout: 10 }), (err) => err.code === "request_timeout");
  await clock.advance(10);
  await dropped;
  await flush();
  const ws2 = server.last();
  ws2.open();
  const sent = ws2.sent.filter((f) => f.action);
  assert.deepEqual(sent.map((f) => f.action), ["later"]);
  ws2.receive({ $rid: sent[0].$rid, ok: true });
  assert.deepEqual(await queued, { $rid: sent[0].$rid, ok: true });
  client.close();
  await assert.rejects(client.request({ action: "x" }), (err) => err.code === "closed");
});

test("replay: durable messages delivered exactly once and in order, from the synced position", async () => {
  const { server, client, of } = setup();
  await flush();
  const ws = server.last();
  ws.open();
  // Live pushes race the replay: out of order and duplicated, before
  // synced gives the start.
  ws.receive(msg("lobby", 5, "e"));
  ws.receive(msg("lobby", 3, "c"));
  ws.receive(msg("lobby", 4, "d"));
  ws.receive(msg("lobby", 3, "c"));
  assert.equal(of("durable").length, 0, "nothing before the group has a position");
  ws.answer({ lobby: { epoch: "e1", offset: 2 } });
  ws.receive(msg("lobby", 4, "d"));
  ws.receive(msg("lobby", 7, "g"));
  ws.receive(msg("lobby", 6, "f"));
  ws.receive(msg("lobby", 6, "f"));
  assert.deepEqual(of("durable").map((m) => m.data.text).join(""), "cdefg");
  assert.deepEqual(client.positions(), { lobby: { epoch: "e1", offset: 7 } });
  assert.ok(client.stats.duplicates >= 2);

  // After a cut, the resume's sync carries the position; the replay
  // repeats what was delivered: dropped.
  ws.drop();
  await flush();
  const ws2 = server.last();
  ws2.open();
  assert.deepEqual(ws2.syncs()[0].positions, { lobby: { epoch: "e1", offset: 7 } });
  for (const [o, t] of [[6, "f"], [7, "g"], [8, "h"], [9, "i"]]) ws2.receive(msg("lobby", o, t));
  ws2.answer({ lobby: { epoch: "e1", offset: 7 } });
  assert.equal(of("durable").map((m) => m.data.text).join(""), "cdefghi");
  assert.equal(of("synced").at(-1).resumed, true);
  client.close();
});

test("gap: a missing offset is asked for with sync after gapTimeout", async () => {
  const { clock, server, client, of } = setup({ gapTimeout: 500 });
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer({ lobby: { epoch: "e1", offset: 0 } });
  ws.receive(msg("lobby", 1, "a"));
  ws.receive(msg("lobby", 3, "c"));
  const before = ws.syncs().length;
  await clock.advance(400);
  assert.equal(ws.syncs().length, before);
  await clock.advance(200);
  assert.equal(ws.syncs().length, before + 1);
  assert.deepEqual(ws.syncs().at(-1).positions, { lobby: { epoch: "e1", offset: 1 } });
  ws.receive(msg("lobby", 2, "b"));
  ws.answer({ lobby: { epoch: "e1", offset: 1 } });
  assert.equal(of("durable").map((m) => m.data.text).join(""), "abc");
  client.close();
});

test("paged replay: synced with more asks again from the positions reached", async () => {
  const { server, client, of } = setup({ resume: { id: "sessionsessionsession", secret: "s0", positions: { lobby: { epoch: "e1", offset: 10 } } } });
  await flush();
  const ws = server.last();
  ws.open();
  assert.deepEqual(ws.syncs()[0].positions, { lobby: { epoch: "e1", offset: 10 } });
  ws.receive(msg("lobby", 11, "k"));
  ws.receive(msg("lobby", 12, "l"));
  ws.answer({ lobby: { epoch: "e1", offset: 10 } }, { more: true });
  assert.equal(ws.syncs().length, 2, "a second sync follows a paged synced");
  assert.deepEqual(ws.syncs()[1].positions, { lobby: { epoch: "e1", offset: 12 } });
  assert.equal(of("synced").length, 0, "the replay is not over");
  ws.receive(msg("lobby", 13, "m"));
  ws.answer({ lobby: { epoch: "e1", offset: 12 } });
  assert.equal(of("durable").map((m) => m.data.text).join(""), "klm");
  assert.equal(of("synced").length, 1);
  client.close();
});

test("a group joined since the last sync: sync at once; unplaced after three syncs, delivered from its lowest offset", async () => {
  const { server, client, of } = setup();
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer({});
  ws.receive(msg("room", 41, "a"));
  assert.equal(ws.syncs().length, 2, "a message of a group without a position asks at once");
  ws.receive(msg("room", 42, "b"));
  assert.equal(ws.syncs().length, 2, "one sync at a time");
  ws.answer({ room: { epoch: "e1", offset: 40 } });
  assert.equal(of("durable").map((m) => m.data.text).join(""), "ab");

  // A server that never places the group: after three syncs, delivery
  // starts from the lowest buffered offset.
  ws.receive(msg("other", 7, "x"));
  ws.receive(msg("other", 8, "y"));
  for (let i = 0; i < 3; i++) ws.answer({});
  assert.equal(of("durable").map((m) => m.data.text).join(""), "abxy");
  client.close();
});

test("discontinuity: drops the buffer and moves to the new position", async () => {
  const { server, client, of } = setup();
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer({ lobby: { epoch: "e1", offset: 4 } });
  ws.receive(msg("lobby", 9, "stale"));
  ws.receive(msg("lobby", 21, "new epoch", "e2"));
  ws.receive({ mullet: "discontinuity", group: "lobby", epoch: "e2", offset: 20, from: { epoch: "e1", offset: 4 } });
  assert.deepEqual(of("discontinuity"), [{ group: "lobby", epoch: "e2", offset: 20, from: { epoch: "e1", offset: 4 } }]);
  assert.deepEqual(client.positions(), { lobby: { epoch: "e2", offset: 20 } });
  ws.receive(msg("lobby", 21, "u", "e2"));
  ws.receive(msg("lobby", 22, "v", "e2"));
  ws.receive(msg("lobby", 23, "other epoch", "e3"));
  assert.deepEqual(of("durable").map((m) => m.data.text), ["u", "v"]);
  assert.equal(client.stats.discontinuities, 1);
  client.close();
});

test("session: created without a secret, resumed with the rotated one; failed attempts' proposals are tried", async () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
  const { clock, server, client } = setup({ storage });
  await flush();
  const u1 = server.last().url.searchParams;
  const id = u1.get("mullet_session");
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(u1.get("mullet_secret"), null, "a create presents no secret");
  assert.match(u1.get("mullet_next"), /^[A-Za-z0-9_-]{43}$/);
  server.last().open();
  const saved = JSON.parse(store.get("mullet-session"));
  assert.equal(sha(saved.secret), u1.get("mullet_next"), "the secret kept is the one whose hash was proposed");

  server.last().drop();
  await flush();
  const u2 = server.last().url.searchParams;
  assert.equal(u2.get("mullet_session"), id);
  assert.equal(sha(u2.get("mullet_secret")), u1.get("mullet_next"));
  assert.notEqual(u2.get("mullet_next"), u1.get("mullet_next"));
  // This attempt's answer is lost: the server may hold its proposal now.
  server.last().fail();
  await clock.advance(50);
  const u3 = server.last().url.searchParams;
  assert.equal(sha(u3.get("mullet_secret")), u2.get("mullet_next"), "the second attempt presents the lost attempt's proposal");
  server.last().fail();
  await clock.advance(100);
  const u4 = server.last().url.searchParams;
  assert.equal(u4.get("mullet_secret"), u2.get("mullet_secret"), "then the last good secret again");
  server.last().fail();
  await clock.advance(200);
  const u5 = server.last().url.searchParams;
  assert.equal(sha(u5.get("mullet_secret")), u4.get("mullet_next"), "then the newest proposal first");
  server.last().open();
  assert.equal(sha(JSON.parse(store.get("mullet-session")).secret), u5.get("mullet_next"));
  assert.deepEqual(JSON.parse(store.get("mullet-session")).candidates, []);
  client.close();

  // Another page load resumes from storage.
  const again = setup({ storage });
  await flush();
  const u6 = again.server.last().url.searchParams;
  assert.equal(u6.get("mullet_session"), id);
  assert.equal(sha(u6.get("mullet_secret")), u5.get("mullet_next"));
  again.client.close();
});

test("session lost: no upgrade for the session TTL starts a new session and says so", async () => {
  const { clock, server, client, of } = setup({ sessionTTL: 1000, maxBackoff: 400 });
  await flush();
  server.last().open();
  const id = client.session;
  server.last().drop();
  await flush();
  let attempts = 0;
  while (server.last().url.searchParams.get("mullet_session") === id) {
    server.last().fail();
    await clock.advance(400);
    attempts++;
  }
  assert.ok(clock.t - 1_000_000 >= 1000, "not before the session TTL");
  const u = server.last().url.searchParams;
  assert.equal(u.get("mullet_secret"), null);
  server.last().open();
  assert.deepEqual(of("sessionlost"), [{ session: client.session }]);
  assert.equal(of("state").at(-1).newSession, true);
  client.close();
});

test("keep-alive: sync after idleSync; a sync with no answer within syncTimeout reconnects", async () => {
  const { clock, server, client } = setup({ idleSync: 60_000, syncTimeout: 5_000 });
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer();
  await clock.advance(59_000);
  assert.equal(ws.syncs().length, 1);
  await clock.advance(1_500);
  assert.equal(ws.syncs().length, 2, "an idle connection sends sync");
  ws.answer();
  await clock.advance(60_500);
  assert.equal(ws.syncs().length, 3);
  // No answer: the connection is dead.
  await clock.advance(5_500);
  assert.equal(server.sockets.length, 2);
  assert.equal(ws.closed.code, 4000);
  client.close();
});

test("proactive reconnect after maxAge, before the 2-hour cut", async () => {
  const { clock, server, client, of } = setup({ maxAge: 10_000, idleSync: -1 });
  await flush();
  server.last().open();
  server.last().answer();
  await clock.advance(9_999);
  assert.equal(server.sockets.length, 1);
  await clock.advance(1);
  assert.equal(server.sockets[0].closed.code, 1000);
  assert.equal(server.sockets.length, 2);
  assert.equal(of("state").find((s) => s.proactive)?.state, "reconnecting");
  server.last().open();
  assert.equal(client.stats.proactive, 1);
  client.close();
});

test("servers without sessions: a Forbidden answer to sync stops syncing; msg frames flow as they come", async () => {
  const { clock, server, client, of } = setup();
  await flush();
  const ws = server.last();
  ws.open();
  ws.receive({ message: "Forbidden", connectionId: "c1", requestId: "r1" });
  ws.receive(msg("lobby", 8, "x"));
  ws.receive(msg("lobby", 9, "y"));
  ws.receive(msg("lobby", 9, "y"));
  assert.equal(of("durable").map((m) => m.data.text).join(""), "xy");
  assert.equal(of("message").length, 0, "the Forbidden answer is swallowed");
  await clock.advance(10 * 60_000);
  assert.equal(ws.syncs().length, 1);
  client.close();
});

test("app frames, presence and control errors reach their events", async () => {
  const { server, client, of } = setup();
  await flush();
  const ws = server.last();
  ws.open();
  ws.answer();
  ws.receive({ type: "who", nicks: ["ann"] });
  ws.receive("plain text");
  ws.receive({ mullet: "presence", group: "lobby", event: "join", session: "s2", data: { nick: "bob" } });
  ws.receive({ mullet: "error", code: "bad_frame", message: "no" });
  ws.receive({ mullet: "future-frame" });
  assert.deepEqual(of("message"), [{ type: "who", nicks: ["ann"] }, "plain text"]);
  assert.deepEqual(of("presence"), [{ group: "lobby", event: "join", session: "s2", data: { nick: "bob" } }]);
  assert.deepEqual(of("error"), [{ code: "bad_frame", message: "no" }]);
  client.close();
});

test("URL provider: called before every connect with the parameters to sign; its failure retried", async () => {
  const clock = new FakeClock();
  const server = fakeServer();
  const given = [];
  let calls = 0;
  const client = new MulletClient(
    async (params) => {
      calls++;
      given.push(new URLSearchParams(params));
      if (calls === 2) throw new Error("signer unavailable");
      const u = new URL("wss://api.example/prod");
      for (const [k, v] of params) u.searchParams.set(k, v);
      u.searchParams.set("X-Amz-Signature", "sig" + calls); // signed over the rest
      return u.toString();
    },
    { WebSocket: server.FakeSocket, clock, random: () => 0, crypto: fakeCrypto, query: { token: "t" } },
  );
  await flush();
  assert.equal(server.last().url.searchParams.get("X-Amz-Signature"), "sig1");
  assert.equal(server.last().url.searchParams.get("token"), "t");
  assert.equal(given[0].get("token"), "t");
  assert.equal(given[0].get("mullet_session"), client.session);
  assert.match(given[0].get("mullet_next"), /^[A-Za-z0-9_-]{43}$/);
  server.last().open();
  server.last().drop();
  await flush();
  assert.equal(server.sockets.length, 1, "the failed provider made no socket");
  assert.ok(given[1].get("mullet_secret"), "a resume's parameters carry the secret");
  await clock.advance(50);
  assert.equal(server.last().url.searchParams.get("X-Amz-Signature"), "sig3");
  client.close();
});

test("URL provider: a URL without the parameters it was given is refused with a clear error", async () => {
  const clock = new FakeClock();
  const server = fakeServer();
  const states = [];
  const client = new MulletClient(() => "wss://api.example/prod?X-Amz-Signature=x", { WebSocket: server.FakeSocket, clock, random: () => 0, crypto: fakeCrypto });
  client.on("state", (s) => states.push(s));
  await flush();
  assert.equal(server.sockets.length, 0);
  assert.match(String(states[0].error), /lacks the query parameter mullet_session/);
  client.close();
});

test("Streams: a synced position at the end of the buffered run starts before it", () => {
  const s = new Streams();
  for (const o of [4, 5, 6]) s.add(msg("g", o, String(o)), 0);
  const out = s.synced("g", { epoch: "e1", offset: 6 });
  assert.deepEqual(out.map((m) => m.offset), [4, 5, 6]);
});
