// @ts-check
// Must NOT type-check: reads a member that no reply of the app has.
import { MulletClient } from "../../web/mullet.js";

/** @typedef {import("../../web/api.js").Event | import("../../web/api.js").Who} Reply */
/** @type {MulletClient<Exclude<import("../../web/api.js").ClientFrame, import("../../web/api.js").Sync>, Reply>} */
const client = new MulletClient("ws://127.0.0.1:8080/local");
client.on("message", (m) => console.log(m.nickname)); // the wrong member
