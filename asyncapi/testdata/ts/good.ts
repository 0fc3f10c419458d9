// Uses the types generated for the chat example (chat.ts) and for the
// test app of asyncapi_test.go (full.ts) the way a client would: this file
// must type-check.
import type { ClientFrame, JoinRequest, Msg, Routes, SendRequest, ServerFrame, Sync } from "./chat";
import type { MsgOf, Pushes, Said, SayRequest } from "./full";

const join: JoinRequest = { action: "join", room: "lobby", history: 20 };
const send: Routes["send"]["request"] = { action: "send", room: "lobby", text: "hi", $rid: "1" };
const sync: Sync = { mullet: "sync", positions: { lobby: { epoch: "q7", offset: 41 } } };
const frames: ClientFrame[] = [join, send, sync];

function isMsg(f: ServerFrame): f is Msg {
  return (f as { mullet?: unknown }).mullet === "msg";
}

function onFrame(f: ServerFrame): string {
  if (isMsg(f)) {
    return `${f.group}@${f.offset}`;
  }
  return "";
}

const say: SayRequest = { action: "say", text: "short" };
const said: Said = { from: "ann", n: 1 };
const pushed: Pushes["room:"] = said;
const sent: SendRequest = send;

export { frames, onFrame, say, pushed, sent };

// A durable room's msg frame carries the room's declared broadcast.
const msg: MsgOf<"room:"> = { mullet: "msg", group: "room:lobby", epoch: "q7", offset: 42, data: said };
const fromMsg: Said = msg.data;

export { msg, fromMsg };
