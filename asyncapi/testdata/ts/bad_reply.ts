// A deliberately wrong payload of a declared outbound type: Said has no
// member "text" and needs "n". This file must fail to type-check.
import type { Said } from "./full";

export const said: Said = { from: "ann", text: "hi" };
