// A deliberately wrong msg frame of a durable room: its data must be the
// room's declared broadcast, Said, which has no member "text" and needs
// "n". This file must fail to type-check.
import type { MsgOf } from "./full";

export const msg: MsgOf<"room:"> = { mullet: "msg", group: "room:lobby", epoch: "q7", offset: 42, data: { from: "ann", text: "hi" } };
