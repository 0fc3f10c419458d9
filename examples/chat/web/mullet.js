// @ts-check
// mullet.js: the browser client of a mullet app (docs/browser.md).
//
// One ES module with no dependencies, written as plain JavaScript with JSDoc
// types that `tsc --checkJs --strict` checks: the file a browser loads is
// the file that is type-checked, with no build step and nothing generated
// to keep in sync. It speaks the continuity protocol of docs/protocol.md as
// package client (Go) does: a session presented on every upgrade with a
// rotating secret, resumed after every cut with backoff and jitter, sync and
// replay, messages of durable groups delivered exactly once and in order,
// request/reply by "$rid", and a bounded queue of frames sent while
// disconnected.

/** The protocol version this module speaks. */
export const PROTOCOL = "mullet.v1";

/**
 * Defaults of Options, in milliseconds where they are times.
 */
export const defaults = Object.freeze({
  minBackoff: 100,
  maxBackoff: 30_000,
  idleSync: 8 * 60_000,
  syncTimeout: 15_000,
  maxAge: (115 * 60_000),
  gapTimeout: 500,
  sendQueue: 1024,
  requestTimeout: 30_000,
  connectTimeout: 10_000,
  sessionTTL: 5 * 60_000,
  storageKey: "mullet-session",
});

/**
 * @typedef {"closed" | "queue_full" | "request_timeout" | "connection_lost" | "not_object" | "reply"} ErrorCode
 */

/**
 * MulletError is every error of this module; match on its code:
 * - "closed": the client was closed by close();
 * - "queue_full": a frame was sent while disconnected and the send queue
 *   (Options.sendQueue) is full; the frame was not queued;
 * - "request_timeout": a request had no reply in time (API Gateway's own
 *   error frames carry no "$rid", so a request answered by one times out);
 * - "connection_lost": the connection a request was written on was lost
 *   before its reply; it may or may not have been served and is not sent
 *   again;
 * - "not_object": a request must be a JSON object;
 * - "reply": the reply is an error frame in API Gateway's shape
 *   ({"message", "connectionId", "requestId"}); it is in reply.
 */
export class MulletError extends Error {
  /**
   * @param {ErrorCode} code
   * @param {string} message
   * @param {unknown} [reply]
   */
  constructor(code, message, reply) {
    super("mullet: " + message);
    this.name = "MulletError";
    /** @type {ErrorCode} */
    this.code = code;
    /** The error frame of a "reply" error. */
    this.reply = reply;
  }
}

/**
 * @typedef {{epoch: string, offset: number}} Position
 * A place in a durable group's stream: the last message delivered.
 */

/**
 * @typedef {object} SessionState
 * What resuming a session needs (Options.storage keeps it): it holds a
 * secret, store it as one.
 * @property {string} id
 * @property {string} [secret]
 * @property {string[]} [candidates] secrets proposed by attempts without an answer
 * @property {Record<string, Position>} [positions]
 */

/**
 * @typedef {"connecting" | "open" | "reconnecting" | "closed"} ConnectionState
 */

/**
 * @typedef {object} StateEvent
 * @property {ConnectionState} state
 * @property {number} attempt failed attempts since the last connection
 * @property {unknown} [error] why a connection ended or an attempt failed
 * @property {string} session the session ID ("" without sessions)
 * @property {boolean} resumed a connection that resumed its session
 * @property {boolean} newSession a new session replaced a lost one
 * @property {boolean} proactive the client closed the connection before the 2-hour cut
 */

/**
 * @template [Data=unknown]
 * @typedef {object} DurableMessage
 * A message of a durable group (or of "$session"): delivered exactly once and in order.
 * @property {string} group
 * @property {string} epoch
 * @property {number} offset
 * @property {Data} [data] the JSON payload
 * @property {string} [text] a text payload
 */

/**
 * @typedef {object} DiscontinuityEvent
 * Messages of group were lost for this client; what follows comes after epoch/offset.
 * @property {string} group
 * @property {string} epoch
 * @property {number} offset
 * @property {Position} from
 */

/**
 * @typedef {object} PresenceEvent
 * @property {string} group
 * @property {"join" | "leave"} event
 * @property {string} session
 * @property {unknown} [data]
 */

/**
 * @typedef {object} SyncedEvent
 * The end of a replay: everything the server had for the session's groups
 * when it served the sync has been delivered.
 * @property {string} session
 * @property {Record<string, Position>} groups
 * @property {boolean} resumed the first synced of a connection that resumed the session
 */

/**
 * @typedef {object} ControlErrorEvent
 * @property {string} code
 * @property {string} message
 */

/**
 * @template [Receive=unknown]
 * @template [Data=unknown]
 * @typedef {object} EventMap
 * @property {StateEvent} state every connection change, for an indicator
 * @property {Receive} message an app frame (JSON parsed; text as a string; binary as an ArrayBuffer)
 * @property {DurableMessage<Data>} durable
 * @property {DiscontinuityEvent} discontinuity
 * @property {PresenceEvent} presence
 * @property {SyncedEvent} synced
 * @property {{session: string}} sessionlost the server refused to resume; a new session (in no group) took its place
 * @property {ControlErrorEvent} error an error frame about a control frame
 */

/**
 * @typedef {object} Clock
 * Time as the client sees it; tests pass a fake one.
 * @property {() => number} now milliseconds
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 */

/**
 * @typedef {object} WebSocketLike
 * The part of the browser's WebSocket the client uses.
 * @property {number} readyState
 * @property {string} binaryType
 * @property {((ev: any) => void) | null} onopen
 * @property {((ev: any) => void) | null} onclose
 * @property {((ev: any) => void) | null} onerror
 * @property {((ev: {data: any}) => void) | null} onmessage
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 */

/**
 * @typedef {new (url: string, protocols?: string | string[]) => WebSocketLike} WebSocketConstructor
 */

/**
 * @typedef {object} StorageLike
 * @property {(key: string) => string | null} getItem
 * @property {(key: string, value: string) => void} setItem
 * @property {(key: string) => void} removeItem
 */

/**
 * @typedef {object} Options
 * Every field is optional.
 * @property {Record<string, string>} [query] added to the URL's query string on every connect
 * @property {string | string[]} [protocols] WebSocket subprotocols
 * @property {boolean} [noSession] plain connections: no session, no resume, no sync
 * @property {StorageLike | null} [storage] keeps the session (ID, secrets, positions) across page loads, e.g. sessionStorage
 * @property {string} [storageKey] the key in storage; default "mullet-session"
 * @property {SessionState} [resume] start from this session instead of storage or a new one
 * @property {number} [minBackoff] first wait after a failed attempt (ms, default 100); it doubles up to maxBackoff
 * @property {number} [maxBackoff] cap of the wait between attempts (ms, default 30 s); each wait is drawn from its upper half
 * @property {number} [idleSync] send sync after this long without a data frame either way, below API Gateway's 10-minute idle timeout (ms, default 8 min; negative: never)
 * @property {number} [syncTimeout] a sync with no frame back within this long means a dead connection: reconnect (ms, default 15 s)
 * @property {number} [maxAge] reconnect proactively after a connection has been open this long, before API Gateway's 2-hour cut (ms, default 1h55m; negative: never)
 * @property {number} [gapTimeout] how long durable messages wait for a missing offset before a sync (ms, default 500)
 * @property {number} [sendQueue] frames held while disconnected (default 1024)
 * @property {number} [requestTimeout] default timeout of request (ms, default 30 s)
 * @property {number} [connectTimeout] bound on each upgrade attempt (ms, default 10 s)
 * @property {number} [sessionTTL] start a new session after this long without a successful upgrade (ms, default 5 min: the app's session TTL)
 * @property {WebSocketConstructor} [WebSocket] default globalThis.WebSocket
 * @property {Clock} [clock] default the real clock
 * @property {() => number} [random] in [0, 1); default Math.random
 * @property {Crypto} [crypto] default globalThis.crypto (getRandomValues, subtle.digest)
 */

/**
 * @typedef {string | ((params: URLSearchParams) => string | Promise<string>)} URLSource
 * A ws:// or wss:// URL, to which the client adds its query parameters;
 * or a function called before every connect with those parameters (the
 * session's, and Options.query) that returns the URL to dial, carrying
 * them all: e.g. an IAM presigned URL signed over them, fresh for every
 * connect.
 */

const maxCandidates = 32;
const maxAsks = 3;

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * backoff is the wait before failed attempt n (1-based): it doubles from
 * min up to max, drawn at random from the upper half.
 * @param {number} n
 * @param {number} min
 * @param {number} max
 * @param {() => number} random
 */
export function backoff(n, min, max, random) {
  let d = min;
  for (let i = 1; i < n && d < max; i++) d *= 2;
  d = Math.min(d, max);
  const half = d / 2;
  return half + random() * (d - half);
}

/**
 * isGatewayForbidden: API Gateway's answer to a frame without a route.
 * @param {Record<string, unknown>} f
 */
function isGatewayForbidden(f) {
  const keys = Object.keys(f);
  return keys.length === 3 && f.message === "Forbidden" && typeof f.connectionId === "string" && typeof f.requestId === "string";
}

/** @param {unknown} f */
function isErrorFrame(f) {
  if (typeof f !== "object" || f === null) return false;
  const e = /** @type {Record<string, unknown>} */ (f);
  return typeof e.message === "string" && typeof e.connectionId === "string" && e.connectionId !== "" && typeof e.requestId === "string" && e.requestId !== "";
}

/**
 * @typedef {object} Stream
 * @property {Position} pos
 * @property {boolean} known
 * @property {Map<number, DurableMessage<any>>} buf
 * @property {number} since when the buffer last went from empty to waiting
 * @property {number} asks syncs sent while the group had no position
 */

/**
 * Streams orders and de-duplicates the messages of durable groups by
 * position (docs/protocol.md 5.5).
 */
export class Streams {
  constructor() {
    /** @type {Map<string, Stream>} */
    this.groups = new Map();
  }

  /** @param {string} group */
  get(group) {
    let st = this.groups.get(group);
    if (!st) {
      st = { pos: { epoch: "", offset: 0 }, known: false, buf: new Map(), since: 0, asks: 0 };
      this.groups.set(group, st);
    }
    return st;
  }

  /**
   * add takes a message and returns what can now be delivered, in order.
   * @param {DurableMessage<any>} m
   * @param {number} now
   */
  add(m, now) {
    const st = this.get(m.group);
    if (st.known && m.offset <= st.pos.offset) return [];
    if (st.buf.size === 0) st.since = now;
    st.buf.set(m.offset, m);
    return drain(st);
  }

  /**
   * synced takes the position a synced frame gives for a group. A group
   * with a position keeps its own. For one without, if the buffer holds the
   * message at the given position, delivery starts before the run of
   * buffered messages that ends there (so the replay is delivered whether
   * the server names where it started or where it ended).
   * @param {string} group
   * @param {Position} p
   */
  synced(group, p) {
    const st = this.get(group);
    if (st.known) return drain(st);
    const m = st.buf.get(p.offset);
    if (m && (p.epoch === "" || m.epoch === p.epoch)) {
      let start = p.offset;
      for (;;) {
        const prev = st.buf.get(start - 1);
        if (!prev || prev.epoch !== m.epoch) break;
        start--;
      }
      p = { epoch: m.epoch, offset: start - 1 };
    }
    st.pos = { epoch: p.epoch, offset: p.offset };
    st.known = true;
    return drain(st);
  }

  /**
   * discontinuity moves a group to a new position, dropping its buffer.
   * @param {string} group
   * @param {Position} to
   */
  discontinuity(group, to) {
    const st = this.get(group);
    st.pos = { epoch: to.epoch, offset: to.offset };
    st.known = true;
    st.buf.clear();
  }

  /**
   * waiting: a group's buffer has waited for a position or a gap for d.
   * @param {number} now
   * @param {number} d
   */
  waiting(now, d) {
    for (const st of this.groups.values()) if (st.buf.size > 0 && now - st.since >= d) return true;
    return false;
  }

  /** restart marks waiting buffers as waiting from now (a sync was sent). @param {number} now */
  restart(now) {
    for (const st of this.groups.values()) {
      if (st.buf.size > 0) {
        st.since = now;
        if (!st.known) st.asks++;
      }
    }
  }

  /** unplaced: groups with buffered messages and no position, with their asks. */
  unplaced() {
    /** @type {Map<string, number>} */
    const out = new Map();
    for (const [g, st] of this.groups) if (!st.known && st.buf.size > 0) out.set(g, st.asks);
    return out;
  }

  /** positions: the known positions, for a sync frame. */
  positions() {
    /** @type {Record<string, Position>} */
    const out = {};
    for (const [g, st] of this.groups) if (st.known) out[g] = { epoch: st.pos.epoch, offset: st.pos.offset };
    return out;
  }

  /**
   * releaseAll starts a group without a position from its lowest buffered
   * offset.
   * @param {string} group
   */
  releaseAll(group) {
    const st = this.get(group);
    if (st.known || st.buf.size === 0) return [];
    const lowest = Math.min(...st.buf.keys());
    const m = /** @type {DurableMessage<any>} */ (st.buf.get(lowest));
    return this.synced(group, { epoch: m.epoch, offset: lowest - 1 });
  }

  reset() {
    this.groups.clear();
  }
}

/** @param {Stream} st */
function drain(st) {
  /** @type {DurableMessage<any>[]} */
  const out = [];
  if (!st.known) return out;
  for (;;) {
    const m = st.buf.get(st.pos.offset + 1);
    if (!m || (st.pos.epoch !== "" && m.epoch !== st.pos.epoch)) break;
    st.buf.delete(st.pos.offset + 1);
    st.pos = { epoch: m.epoch, offset: m.offset };
    out.push(m);
  }
  for (const off of st.buf.keys()) if (off <= st.pos.offset) st.buf.delete(off);
  return out;
}

/**
 * @typedef {object} Pending
 * @property {(v: any) => void} resolve
 * @property {(e: MulletError) => void} reject
 * @property {unknown} timer
 * @property {number} gen the connection it was written on; 0 while queued
 */

/**
 * @typedef {{data: string, rid?: string}} Outgoing
 */

/**
 * MulletClient is a connection to a mullet app (or any API Gateway
 * WebSocket API) that survives cuts: it reconnects, resumes its session and
 * delivers the messages of durable groups exactly once and in order.
 *
 * Send is the type of the frames the app accepts (the generated
 * ClientFrame, or a union of route requests), Receive the type of app
 * frames and replies, Data the type of the payload of durable messages
 * (the declared pushes): with the types `mullet asyncapi -ts` generates, a
 * wrong payload fails to compile.
 *
 * @template {object} [Send=Record<string, unknown>]
 * @template [Receive=unknown]
 * @template [Data=unknown]
 */
export class MulletClient {
  /**
   * The client starts connecting at once (after the current task, so that
   * handlers registered right after construction see every event).
   * @param {URLSource} url a ws:// or wss:// URL, or a function called before every connect with the query parameters to carry, that returns the URL (e.g. a fresh IAM presigned URL signed over them)
   * @param {Options} [options]
   */
  constructor(url, options = {}) {
    this.#url = url;
    const o = { ...defaults, ...options };
    for (const [k, v] of Object.entries(defaults)) {
      const key = /** @type {keyof typeof defaults} */ (k);
      if (/** @type {any} */ (o)[key] === undefined || /** @type {any} */ (o)[key] === 0) /** @type {any} */ (o)[key] = v;
    }
    o.maxBackoff = Math.max(o.maxBackoff, o.minBackoff);
    this.#o = o;
    this.#WS = o.WebSocket || /** @type {WebSocketConstructor} */ (/** @type {any} */ (globalThis).WebSocket);
    this.#clock = o.clock || { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(/** @type {any} */ (h)) };
    this.#random = o.random || Math.random;
    this.#crypto = o.crypto || globalThis.crypto;
    /** Counts of what the client went through. */
    this.stats = { connects: 0, reconnects: 0, proactive: 0, replayed: 0, duplicates: 0, discontinuities: 0, sessionsLost: 0 };
    /** @type {SessionState | null} */
    let saved = o.resume || null;
    if (!saved && o.storage) {
      try {
        saved = JSON.parse(o.storage.getItem(o.storageKey) || "null");
      } catch {
        saved = null;
      }
    }
    if (saved && typeof saved.id === "string" && !o.noSession) {
      this.#keys = { id: saved.id, secret: saved.secret || "", candidates: [...(saved.candidates || [])] };
      for (const [g, p] of Object.entries(saved.positions || {})) this.#streams.synced(g, p);
    } else {
      this.#keys = this.#newKeys();
    }
    this.#save();
    queueMicrotask(() => this.#attempt());
  }

  /** @type {URLSource} */ #url;
  /** @type {Required<Omit<Options, "resume" | "storage" | "WebSocket" | "clock" | "random" | "crypto" | "query" | "protocols" | "noSession">> & Options} */ #o;
  /** @type {WebSocketConstructor} */ #WS;
  /** @type {Clock} */ #clock;
  /** @type {() => number} */ #random;
  /** @type {Crypto} */ #crypto;
  /** @type {Map<string, Set<(ev: any) => void>>} */ #handlers = new Map();
  /** @type {{id: string, secret: string, candidates: string[]}} */ #keys;
  #streams = new Streams();
  /** @type {WebSocketLike | null} */ #ws = null;
  /** @type {ConnectionState} */ #state = "connecting";
  #closed = false;
  #gen = 0;
  #first = true; // no connection opened yet
  #fails = 0; // failed attempts since the last connection
  /** @type {Set<string>} */ #tried = new Set(); // candidates presented since the last connection
  #failingSince = 0;
  #newSession = false; // the next connection starts a session that replaced a lost one
  #noSessions = false;
  #syncAnswered = false;
  #syncing = false;
  #resync = false;
  #resumedConn = false;
  /** @type {Set<string>} */ #syncRIDs = new Set();
  #nextSync = 0;
  #nextReq = 0;
  #lastData = 0;
  #awaitingSince = 0; // a sync was sent and nothing came back since
  /** @type {Outgoing[]} */ #queue = [];
  /** @type {Map<string, Pending>} */ #pending = new Map();
  /** @type {unknown[]} */ #timers = [];

  /**
   * on registers fn for an event and returns a function that removes it.
   * @template {keyof EventMap<Receive, Data>} K
   * @param {K} type
   * @param {(ev: EventMap<Receive, Data>[K]) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    let set = this.#handlers.get(type);
    if (!set) this.#handlers.set(type, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * @template {keyof EventMap<Receive, Data>} K
   * @param {K} type
   * @param {EventMap<Receive, Data>[K]} ev
   */
  #emit(type, ev) {
    for (const fn of this.#handlers.get(type) || []) {
      try {
        fn(ev);
      } catch (err) {
        // A handler's exception must not break the protocol's state.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  /** The connection state: connecting, open, reconnecting or closed. */
  get state() {
    return this.#state;
  }

  /** The session ID ("" without sessions). */
  get session() {
    return this.#o.noSession ? "" : this.#keys.id;
  }

  /** The frames waiting in the send queue. */
  get queued() {
    return this.#queue.length;
  }

  /** positions returns the position of each durable group delivered so far. */
  positions() {
    return this.#streams.positions();
  }

  /** sessionState returns what resuming the session elsewhere needs (Options.resume). It holds a secret. */
  sessionState() {
    return /** @type {SessionState} */ ({ id: this.#keys.id, secret: this.#keys.secret, candidates: [...this.#keys.candidates], positions: this.#streams.positions() });
  }

  /**
   * send sends a frame to the app: a JSON object (encoded) or a string (as
   * it is). While disconnected it is queued and written on the next
   * connection; when the queue is full it throws MulletError "queue_full".
   * A frame handed to an open socket may still be lost if the connection
   * drops before it leaves the browser: use request (an acknowledged
   * route) when that matters.
   * @param {Send | string} frame
   */
  send(frame) {
    this.#checkOpen();
    this.#out({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /**
   * request sends a JSON object frame tagged with a new "$rid" and resolves
   * with the reply tagged with the same ID (docs/protocol.md 7): the reply
   * frame for a JSON object reply, the "$reply" member otherwise. An error
   * frame in API Gateway's shape rejects with MulletError "reply". It
   * rejects with "request_timeout" after timeout ms (default
   * Options.requestTimeout), "connection_lost" if the connection it was
   * written on is lost first (it is not sent again), "queue_full" if it
   * cannot be queued.
   * @param {Send} frame
   * @param {{timeout?: number}} [options]
   * @returns {Promise<Receive>}
   */
  request(frame, options = {}) {
    try {
      this.#checkOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
      return Promise.reject(new MulletError("not_object", "a request must be a JSON object"));
    }
    const rid = "r-" + ++this.#nextReq;
    const data = JSON.stringify({ $rid: rid, ...frame });
    return new Promise((resolve, reject) => {
      const timeout = options.timeout || this.#o.requestTimeout;
      /** @type {Pending} */
      const p = {
        resolve,
        reject,
        gen: 0,
        timer: this.#clock.setTimeout(() => {
          this.#pending.delete(rid);
          this.#queue = this.#queue.filter((q) => q.rid !== rid);
          reject(new MulletError("request_timeout", `no reply to request ${rid} within ${timeout} ms`));
        }, timeout),
      };
      this.#pending.set(rid, p);
      try {
        this.#out({ data, rid });
      } catch (err) {
        this.#clock.clearTimeout(p.timer);
        this.#pending.delete(rid);
        reject(err);
      }
    });
  }

  /**
   * cut drops the current connection without a close handshake, as a
   * network change would; the client reconnects and resumes. For tests and
   * for pages that know the network changed (the "online" event).
   */
  cut() {
    if (this.#state === "open") this.#lost(new Error("connection dropped by cut"), false, true);
  }

  /**
   * close closes the connection normally and stops reconnecting. Queued
   * frames are not sent; pending requests reject with "closed".
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimers();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      detach(ws);
      try {
        ws.close(1000);
      } catch {
        // already closing
      }
    }
    for (const p of this.#pending.values()) {
      this.#clock.clearTimeout(p.timer);
      p.reject(new MulletError("closed", "the client was closed"));
    }
    this.#pending.clear();
    this.#queue = [];
    this.#setState({ state: "closed", attempt: 0, session: this.session, resumed: false, newSession: false, proactive: false });
  }

  #checkOpen() {
    if (this.#closed) throw new MulletError("closed", "the client was closed");
  }

  /** @param {Outgoing} out */
  #out(out) {
    const ws = this.#ws;
    if (this.#state === "open" && ws && ws.readyState === 1) {
      this.#write(ws, out);
      return;
    }
    if (this.#queue.length >= this.#o.sendQueue) {
      throw new MulletError("queue_full", `disconnected and the send queue is full (${this.#o.sendQueue} frames)`);
    }
    this.#queue.push(out);
  }

  /**
   * @param {WebSocketLike} ws
   * @param {Outgoing} out
   */
  #write(ws, out) {
    if (out.rid) {
      const p = this.#pending.get(out.rid);
      if (!p) return; // given up on already
      p.gen = this.#gen;
    }
    ws.send(out.data);
    this.#lastData = this.#clock.now();
  }

  /** @param {StateEvent} ev */
  #setState(ev) {
    this.#state = ev.state;
    this.#emit("state", ev);
  }

  #newKeys() {
    return { id: this.#token(16), secret: "", candidates: /** @type {string[]} */ ([]) };
  }

  /** @param {number} n */
  #token(n) {
    return base64url(this.#crypto.getRandomValues(new Uint8Array(n)));
  }

  /** @param {string} secret */
  async #hash(secret) {
    return base64url(new Uint8Array(await this.#crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret))));
  }

  #save() {
    const s = this.#o.storage;
    if (!s || this.#o.noSession) return;
    try {
      s.setItem(this.#o.storageKey, JSON.stringify(this.sessionState()));
    } catch {
      // storage full or refused: the session still works in this page
    }
  }

  /**
   * presented picks the secret of the next attempt. A browser cannot read
   * the status of a failed upgrade, so every failure is unanswered
   * (docs/protocol.md 2.2): even attempts present the last secret that got
   * a 101 (the server was merely down), odd ones the proposals of the
   * failed attempts, the newest not yet tried first (an answer was lost),
   * all of them again once each was tried.
   */
  #presented() {
    const k = this.#keys;
    if (this.#fails % 2 === 0 || k.candidates.length === 0) return k.secret;
    let c;
    for (let i = k.candidates.length - 1; i >= 0 && c === undefined; i--) if (!this.#tried.has(k.candidates[i])) c = k.candidates[i];
    if (c === undefined) {
      this.#tried.clear();
      c = /** @type {string} */ (k.candidates.at(-1));
    }
    this.#tried.add(c);
    return c;
  }

  async #attempt() {
    if (this.#closed) return;
    const gen = ++this.#gen;
    const o = this.#o;
    const now = this.#clock.now();
    if (!o.noSession && this.#fails > 0 && now - this.#failingSince >= o.sessionTTL && !this.#newSession) {
      // No upgrade succeeded for the session TTL: the session is gone.
      this.#keys = this.#newKeys();
      this.#streams.reset();
      this.#newSession = true;
      this.#fails = 0;
      this.#failingSince = now;
      this.#save();
    }
    let next = "";
    /** @type {WebSocketLike} */
    let ws;
    try {
      const params = new URLSearchParams(o.query || {});
      if (!o.noSession) {
        next = this.#token(32);
        const secret = this.#presented();
        params.set("mullet_session", this.#keys.id);
        params.set("mullet_next", await this.#hash(next));
        if (secret) params.set("mullet_secret", secret);
      }
      let u;
      if (typeof this.#url === "function") {
        // The provider signs (or otherwise builds) a URL that carries the
        // parameters: a presigned URL's signature covers its query string.
        u = new URL(await this.#url(params));
        for (const [k, v] of params) {
          if (u.searchParams.get(k) !== v) throw new Error(`the URL provider's URL lacks the query parameter ${k} it was given: return a URL that carries every parameter passed to it`);
        }
      } else {
        u = new URL(this.#url);
        for (const [k, v] of params) u.searchParams.set(k, v);
      }
      if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`URL ${u.origin}${u.pathname}: the scheme must be ws or wss`);
      if (this.#closed || gen !== this.#gen) return;
      ws = new this.#WS(u.toString(), o.protocols);
    } catch (err) {
      this.#failed(gen, "", err);
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    const deadline = this.#clock.setTimeout(() => {
      if (gen !== this.#gen || this.#state === "open") return;
      detach(ws);
      try {
        ws.close();
      } catch {
        // not open
      }
      this.#failed(gen, next, new Error(`no connection within ${o.connectTimeout} ms`));
    }, o.connectTimeout);
    ws.onopen = () => {
      this.#clock.clearTimeout(deadline);
      if (gen !== this.#gen) return;
      this.#opened(ws, gen, next);
    };
    ws.onclose = (ev) => {
      this.#clock.clearTimeout(deadline);
      if (gen !== this.#gen) return;
      detach(ws);
      this.#failed(gen, next, new Error(`the upgrade failed (close ${ev && ev.code})`));
    };
    ws.onerror = () => {};
  }

  /**
   * failed: an attempt did not open. Its proposal may have been applied.
   * @param {number} gen
   * @param {string} next
   * @param {unknown} error
   */
  #failed(gen, next, error) {
    if (this.#closed || gen !== this.#gen) return;
    this.#ws = null;
    if (next) {
      const c = this.#keys.candidates;
      c.push(next);
      if (c.length > maxCandidates) c.shift();
    }
    if (this.#fails === 0) this.#failingSince = this.#clock.now();
    this.#fails++;
    this.#save();
    this.#setState({ state: this.#first ? "connecting" : "reconnecting", attempt: this.#fails, error, session: this.session, resumed: false, newSession: false, proactive: false });
    const wait = backoff(this.#fails, this.#o.minBackoff, this.#o.maxBackoff, this.#random);
    this.#later(() => {
      if (gen === this.#gen) this.#attempt();
    }, wait);
  }

  /**
   * @param {WebSocketLike} ws
   * @param {number} gen
   * @param {string} next
   */
  #opened(ws, gen, next) {
    const o = this.#o;
    if (!o.noSession) {
      this.#keys.secret = next;
      this.#keys.candidates = [];
      this.#tried.clear();
    }
    const resumed = !this.#first && !this.#newSession;
    const newSession = this.#newSession;
    this.stats.connects++;
    if (!this.#first) this.stats.reconnects++;
    this.#first = false;
    this.#fails = 0;
    this.#newSession = false;
    this.#resumedConn = resumed;
    this.#syncRIDs = new Set();
    this.#awaitingSince = 0;
    this.#lastData = this.#clock.now();
    this.#save();
    ws.onmessage = (ev) => {
      if (gen === this.#gen) this.#received(ev.data);
    };
    ws.onclose = (ev) => {
      if (gen === this.#gen) this.#lost(new Error(`connection closed (${ev && ev.code}${ev && ev.reason ? ": " + ev.reason : ""})`), false, false);
    };
    this.#setState({ state: "open", attempt: 0, session: this.session, resumed, newSession, proactive: false });
    if (newSession) {
      this.stats.sessionsLost++;
      this.#emit("sessionlost", { session: this.#keys.id });
    }
    if (gen !== this.#gen || this.#state !== "open") return; // a handler closed or cut it
    this.#syncing = !o.noSession && !this.#noSessions;
    this.#sendSync(true);
    const queue = this.#queue;
    this.#queue = [];
    for (const out of queue) this.#write(ws, out);
    if (o.maxAge > 0) {
      this.#later(() => {
        if (gen !== this.#gen || this.#state !== "open") return;
        this.stats.proactive++;
        this.#lost(new Error("reconnecting before the connection's time limit (maxAge)"), true, false);
      }, o.maxAge);
    }
    const tick = Math.max(10, Math.min(o.gapTimeout / 2, 1000, o.idleSync > 0 ? o.idleSync / 2 : Infinity, o.syncTimeout / 2));
    const check = () => {
      if (gen !== this.#gen || this.#state !== "open") return;
      const now = this.#clock.now();
      if (this.#awaitingSince && now - this.#awaitingSince >= o.syncTimeout) {
        this.#lost(new Error(`no answer to sync within ${o.syncTimeout} ms`), false, true);
        return;
      }
      const gap = this.#streams.waiting(now, o.gapTimeout);
      const idle = o.idleSync > 0 && now - this.#lastData >= o.idleSync;
      const resync = this.#resync && now - this.#lastData >= o.gapTimeout;
      this.#resync = false;
      if (gap || idle || resync) this.#sendSync(resync);
      this.#later(check, tick);
    };
    this.#later(check, tick);
  }

  /**
   * lost: the open connection ended (closed by the server, cut, dead or
   * closed by maxAge). Requests written on it fail; reconnect at once.
   * @param {unknown} error
   * @param {boolean} proactive
   * @param {boolean} drop close it from this side
   */
  #lost(error, proactive, drop) {
    const ws = this.#ws;
    const gen = this.#gen;
    this.#ws = null;
    this.#clearTimers();
    if (ws) {
      detach(ws);
      if (proactive || drop) {
        try {
          ws.close(proactive ? 1000 : 4000, proactive ? "reconnecting before the connection's time limit" : "");
        } catch {
          // already closed
        }
      }
    }
    for (const [rid, p] of this.#pending) {
      if (p.gen === gen) {
        this.#pending.delete(rid);
        this.#clock.clearTimeout(p.timer);
        p.reject(new MulletError("connection_lost", `the connection was lost before the reply to ${rid}`));
      }
    }
    this.#syncing = false;
    this.#setState({ state: "reconnecting", attempt: 0, error, session: this.session, resumed: false, newSession: false, proactive });
    this.#attempt();
  }

  /**
   * @param {() => void} fn
   * @param {number} ms
   */
  #later(fn, ms) {
    const h = this.#clock.setTimeout(() => {
      this.#timers = this.#timers.filter((t) => t !== h);
      fn();
    }, ms);
    this.#timers.push(h);
  }

  #clearTimers() {
    for (const h of this.#timers) this.#clock.clearTimeout(h);
    this.#timers = [];
  }

  /** @param {boolean} initial the connection's first sync, or a retry of it */
  #sendSync(initial) {
    const ws = this.#ws;
    if (!ws || this.#o.noSession || this.#noSessions || (!initial && !this.#syncAnswered)) return;
    const rid = "sync-" + ++this.#nextSync;
    this.#syncRIDs.add(rid);
    const now = this.#clock.now();
    const frame = JSON.stringify({ mullet: "sync", positions: this.#streams.positions(), $rid: rid });
    this.#streams.restart(now);
    if (!this.#awaitingSince) this.#awaitingSince = now;
    ws.send(frame);
    this.#lastData = now;
  }

  /** @param {DurableMessage<any>[]} ms */
  #deliver(ms) {
    if (ms.length === 0) return;
    this.#save();
    for (const m of ms) this.#emit("durable", m);
  }

  #stopSessions() {
    this.#syncRIDs.clear();
    this.#noSessions = true;
    this.#syncing = false;
    this.#awaitingSince = 0;
    for (const g of [...this.#streams.groups.keys()]) this.#deliver(this.#streams.releaseAll(g));
  }

  /** @param {unknown} raw */
  #received(raw) {
    const now = this.#clock.now();
    this.#lastData = now;
    this.#awaitingSince = 0;
    if (typeof raw !== "string") {
      this.#emit("message", /** @type {any} */ (raw));
      return;
    }
    /** @type {any} */
    let f;
    const trimmed = raw.trim();
    if (trimmed[0] === "{") {
      try {
        f = JSON.parse(trimmed);
      } catch {
        f = undefined;
      }
    }
    if (typeof f !== "object" || f === null || Array.isArray(f)) {
      this.#emit("message", /** @type {any} */ (raw));
      return;
    }
    const rid = typeof f.$rid === "string" ? f.$rid : "";
    const mullet = typeof f.mullet === "string" ? f.mullet : "";
    if (!rid && !mullet && !this.#syncAnswered && this.#syncRIDs.size > 0 && isGatewayForbidden(f)) {
      // API Gateway refused the first sync: no $default route, so no
      // sessions (docs/protocol.md 1).
      this.#stopSessions();
      return;
    }
    if (rid && this.#syncRIDs.has(rid)) {
      this.#syncRIDs.delete(rid);
      if (mullet === "error" && f.code === "internal") {
        this.#resync = true;
        return;
      }
      if (mullet !== "synced") {
        this.#stopSessions();
        return;
      }
    } else if (rid) {
      const p = this.#pending.get(rid);
      if (p) {
        this.#pending.delete(rid);
        this.#clock.clearTimeout(p.timer);
        if (isErrorFrame(f)) p.reject(new MulletError("reply", "the request failed: " + f.message, f));
        else p.resolve("$reply" in f ? f.$reply : f);
        return;
      }
    }
    switch (mullet) {
      case "":
        this.#emit("message", f);
        return;
      case "msg": {
        /** @type {DurableMessage<any>} */
        const m = { group: String(f.group), epoch: String(f.epoch ?? ""), offset: Number(f.offset) };
        if (typeof f.text === "string") m.text = f.text;
        else m.data = f.data;
        if (this.#syncing) this.stats.replayed++;
        if (this.#noSessions || this.#o.noSession) {
          const st = this.#streams.get(m.group);
          if (!st.known) {
            st.pos = { epoch: m.epoch, offset: m.offset - 1 };
            st.known = true;
          }
        }
        const st = this.#streams.groups.get(m.group);
        if (st && st.known && m.offset <= st.pos.offset) {
          this.stats.duplicates++;
          return;
        }
        const ask = (!st || !st.known) && this.#syncAnswered && this.#syncRIDs.size === 0;
        this.#deliver(this.#streams.add(m, now));
        // A group joined since the last sync: ask where it starts now.
        if (ask) this.#sendSync(false);
        return;
      }
      case "discontinuity": {
        const to = { epoch: String(f.epoch ?? ""), offset: Number(f.offset) };
        const from = f.from && typeof f.from === "object" ? { epoch: String(f.from.epoch ?? ""), offset: Number(f.from.offset) } : { epoch: "", offset: 0 };
        this.#streams.discontinuity(f.group, to);
        this.stats.discontinuities++;
        this.#save();
        this.#emit("discontinuity", { group: String(f.group), epoch: to.epoch, offset: to.offset, from });
        return;
      }
      case "synced": {
        this.#syncAnswered = true;
        const groups = f.groups && typeof f.groups === "object" ? f.groups : {};
        for (const [g, p] of Object.entries(groups)) {
          this.#deliver(this.#streams.synced(g, { epoch: String(p.epoch ?? ""), offset: Number(p.offset) }));
        }
        if (f.more === true) {
          // The server cut the replay short: ask for the rest from the
          // positions reached.
          this.#sendSync(false);
          return;
        }
        let ask = false;
        for (const [g, asks] of this.#streams.unplaced()) {
          if (asks >= maxAsks) this.#deliver(this.#streams.releaseAll(g));
          else ask = true;
        }
        if (ask && this.#syncRIDs.size === 0) this.#sendSync(false);
        const resumed = this.#syncing && this.#resumedConn;
        this.#syncing = false;
        this.#save();
        this.#emit("synced", { session: String(f.session ?? ""), groups, resumed });
        return;
      }
      case "presence":
        this.#emit("presence", { group: String(f.group), event: f.event, session: String(f.session), data: f.data });
        return;
      case "error":
        this.#emit("error", { code: String(f.code), message: String(f.message) });
        return;
      default:
      // Unknown control frames are ignored (docs/protocol.md 1).
    }
  }
}

/** @param {WebSocketLike} ws */
function detach(ws) {
  ws.onopen = ws.onclose = ws.onmessage = null;
  ws.onerror = () => {};
}

/**
 * connect is new MulletClient(url, options).
 * @template {object} [Send=Record<string, unknown>]
 * @template [Receive=unknown]
 * @template [Data=unknown]
 * @param {URLSource} url
 * @param {Options} [options]
 * @returns {MulletClient<Send, Receive, Data>}
 */
export function connect(url, options) {
  return new MulletClient(url, options);
}
