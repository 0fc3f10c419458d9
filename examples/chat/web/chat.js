// @ts-check
// The chat page, built on mullet.js (the browser client): a session per tab
// (sessionStorage) that survives cuts, rebuilds and the 2-hour limit; rooms
// with their history on join; a presence list; a connection indicator.
// Typed with the types mullet asyncapi -ts generates (api.d.ts): a frame
// that does not match a route fails tsc --checkJs.
import { MulletClient } from "./mullet.js";

/** @typedef {import("./api.js").ClientFrame} ClientFrame */
/** @typedef {import("./api.js").Event} Event */
/** @typedef {import("./api.js").Who} Who */
/** @typedef {import("./api.js").ErrorFrame} ErrorFrame */
/** @typedef {Exclude<ClientFrame, import("./api.js").Sync>} Request */
/** @typedef {import("./api.js").Pushes[""]} RoomMessage */

const params = new URLSearchParams(location.search);
// In AWS, host this page anywhere and open it with ?url=wss://API/STAGE;
// served by mullet dev, it talks to its own host's stage.
const wsURL = params.get("url") || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/" + (params.get("stage") || "local");

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
const log = $("log");
const status = $("status");
const who = $("who");

/** What the page asked for, to ask again if the session is lost. */
const profile = JSON.parse(sessionStorage.getItem("mullet-chat-profile") || '{"nick":"","room":""}');
const saveProfile = () => sessionStorage.setItem("mullet-chat-profile", JSON.stringify(profile));

/** @type {MulletClient<Request, Event | Who | ErrorFrame, RoomMessage>} */
const client = new MulletClient(wsURL, { storage: sessionStorage, storageKey: "mullet-chat", maxBackoff: 5000 });

/**
 * @param {string} text
 * @param {string} [cls]
 */
function line(text, cls) {
  const d = document.createElement("div");
  d.textContent = text;
  if (cls) d.className = cls;
  const bottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.appendChild(d);
  if (bottom) log.scrollTop = log.scrollHeight;
  return d;
}

// The connection indicator.
client.on("state", (s) => {
  status.dataset.state = s.state;
  const label = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "closed" }[s.state];
  status.textContent = label + (s.attempt > 1 ? ` (attempt ${s.attempt})` : "");
  status.title = s.error ? String(s.error) : wsURL;
  if (s.state === "open") document.body.dataset.ready = "1";
});

// Room messages: durable, so exactly once and in order per room; a
// message sent again after a cut (same id) is shown once.
/** @type {Set<string>} */
const shown = new Set();
const stats = { resent: 0, duplicateIDs: 0 };
client.on("durable", (m) => {
  const ev = m.data;
  if (!ev) return;
  switch (ev.type) {
    case "message":
      if (ev.id) {
        if (shown.has(ev.id)) {
          stats.duplicateIDs++;
          return;
        }
        shown.add(ev.id);
        if (outbox.length > 0 && outbox[0].id === ev.id) {
          outbox.shift();
          pump();
        }
      }
      line(`${ev.from} in ${ev.room}: ${ev.text}`, "msg").dataset.id = ev.id || "";
      return;
    case "joined":
      line(`${ev.nick} joined ${ev.room}`, "sys");
      refreshWho();
      return;
    case "left":
      line(`${ev.nick} left ${ev.room}`, "sys");
      refreshWho();
      return;
  }
});
client.on("discontinuity", (d) => line(`(some messages of ${d.group} were missed while away)`, "sys"));
client.on("presence", (p) => {
  if (p.group === profile.room) refreshWho();
});
client.on("message", (f) => {
  // Frames that are not replies to a request: errors of frames sent with send.
  if (typeof f === "object" && f !== null && "message" in f) line(f.message, "err");
});
client.on("synced", (s) => {
  // Presence events are not replayed: ask again after a reconnect.
  if (s.resumed) refreshWho();
  if (outbox.length > 0) resendSoon();
});
client.on("sessionlost", () => {
  line("session lost; joining again", "err");
  if (profile.nick) setNick(profile.nick);
  if (profile.room) join(profile.room);
});

/** @param {string} nick */
async function setNick(nick) {
  profile.nick = nick;
  saveProfile();
  try {
    const r = await client.request({ action: "nick", nick });
    if ("nick" in r) line("you are now " + r.nick, "sys");
  } catch (err) {
    line(describe(err), "err");
  }
}

/** @param {string} room */
function join(room) {
  profile.room = room;
  saveProfile();
  send({ action: "join", room, history: 20 });
  refreshWho();
}

let whoAsked = 0;
async function refreshWho() {
  if (!profile.room) return;
  const asked = ++whoAsked;
  try {
    const r = await client.request({ action: "who", room: profile.room });
    if (asked !== whoAsked || !("nicks" in r)) return;
    who.replaceChildren(...[...r.nicks].sort().map((n) => Object.assign(document.createElement("li"), { textContent: n })));
    who.dataset.room = r.room;
  } catch (err) {
    if (asked === whoAsked && err instanceof Error && "code" in err && err.code !== "connection_lost") line(describe(err), "err");
  }
}

/** @param {Request} frame */
function send(frame) {
  try {
    client.send(frame);
  } catch (err) {
    line(describe(err), "err");
  }
}

/** @param {unknown} err */
function describe(err) {
  return err instanceof Error ? err.message.replace(/^mullet: /, "") : String(err);
}

// The outbox: messages go one at a time; each is done when it comes back
// in the room's stream. One whose connection was lost before it came back
// may not have been served: it is sent again (same id) after the resume.
/** @type {{id: string, room: string, text: string, at: number}[]} */
const outbox = [];
let seq = 0;
let resendTimer = 0;
/**
 * @param {string} room
 * @param {string} text
 */
function say(room, text) {
  outbox.push({ id: client.session.slice(0, 8) + "-" + Date.now().toString(36) + "-" + ++seq, room, text, at: 0 });
  if (outbox.length === 1) pump();
}
function pump() {
  const m = outbox[0];
  if (!m) return;
  m.at = Date.now();
  send({ action: "send", room: m.room, text: m.text, id: m.id });
}
function resendSoon() {
  clearTimeout(resendTimer);
  const head = outbox[0];
  resendTimer = setTimeout(() => {
    if (outbox[0] === head && head) {
      stats.resent++;
      pump();
    }
  }, 1000);
}
setInterval(() => {
  // A message not back within 5 s while connected: send it again.
  if (outbox.length > 0 && client.state === "open" && Date.now() - outbox[0].at > 5000) {
    stats.resent++;
    pump();
  }
}, 1000);

input("nick").value = profile.nick;
if (profile.room) input("room").value = profile.room;
$("nickForm").onsubmit = (e) => {
  e.preventDefault();
  setNick(input("nick").value);
};
$("roomForm").onsubmit = (e) => {
  e.preventDefault();
  join(input("room").value);
};
$("whoButton").onclick = (e) => {
  e.preventDefault();
  refreshWho();
};
$("sendForm").onsubmit = (e) => {
  e.preventDefault();
  const t = input("text");
  if (!profile.room) {
    line("join a room first", "err");
    return;
  }
  say(profile.room, t.value);
  t.value = "";
};

// For tests and the console.
Object.assign(globalThis, {
  chat: {
    client,
    stats,
    /** @param {number} n @param {string} prefix @param {number} [from] */
    sayMany(n, prefix, from = 1) {
      for (let i = from; i < from + n; i++) say(profile.room, prefix + String(i).padStart(3, "0"));
    },
    pending: () => outbox.length,
  },
});
