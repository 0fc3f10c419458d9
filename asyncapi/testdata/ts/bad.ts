// A deliberately wrong payload: the send route's text must be a string.
// This file must fail to type-check.
import type { SendRequest } from "./chat";

export const send: SendRequest = { action: "send", room: "lobby", text: 42 };
