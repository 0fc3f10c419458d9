// @ts-check
// Must NOT type-check: a frame of route "send" with a number for its text.
import { MulletClient } from "../../web/mullet.js";

/** @type {MulletClient<Exclude<import("../../web/api.js").ClientFrame, import("../../web/api.js").Sync>>} */
const client = new MulletClient("ws://127.0.0.1:8080/local");
client.send({ action: "send", room: "lobby", text: 42 }); // the wrong payload
