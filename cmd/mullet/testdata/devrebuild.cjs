// Drives two chat pages in headless Chromium under mullet dev while the Go
// test TestBrowserSurvivesDevRebuild rebuilds the app. The script and the
// test talk in lines: the script prints "STEP rebuild" and "STEP routes";
// the test makes the change, waits for mullet dev to take it, and writes
// "done" to the script's stdin. The script never touches the pages' forms
// after the set-up: the pages must recover by themselves.
// Usage: node devrebuild.cjs PLAYWRIGHT_DIR URL OUTDIR
const { chromium } = require(process.argv[2]);
const url = process.argv[3];
const outDir = process.argv[4];
const path = require("path");
const readline = require("readline");

const t0 = Date.now();
const say = (s) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);

// The test's answers, one line each.
const answers = [];
const waiting = [];
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  const w = waiting.shift();
  if (w) w(l);
  else answers.push(l);
});
const answer = () => (answers.length ? Promise.resolve(answers.shift()) : new Promise((r) => waiting.push(r)));
async function step(name) {
  console.log("STEP " + name);
  const got = await answer();
  if (got !== "done") throw new Error(`step ${name}: the test answered ${JSON.stringify(got)}`);
  say(`${name}: done`);
}

async function until(page, fn, arg, timeout, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`${what}: ${err.message.split("\n")[0]}`);
  }
}

// Runs in the page: records every state of the indicator (the DOM the
// user sees) and every state event of the client, with its error.
function record() {
  const status = document.getElementById("status");
  const g = /** @type {any} */ (globalThis);
  g.indicator = [status.dataset.state];
  new MutationObserver(() => g.indicator.push(status.dataset.state)).observe(status, { attributes: true, attributeFilter: ["data-state"] });
  g.states = [];
  g.chat.client.on("state", (s) => g.states.push(`${s.state}${s.attempt ? " #" + s.attempt : ""}${s.error ? " (" + s.error + ")" : ""}`));
}

const snapshot = () => ({
  indicator: document.getElementById("status").dataset.state,
  indicatorHistory: globalThis.indicator.slice(),
  states: globalThis.states.slice(),
  stats: globalThis.chat.client.stats,
  page: globalThis.chat.stats,
  pending: globalThis.chat.pending(),
  who: [...document.querySelectorAll("#who li")].map((li) => li.textContent),
  log: [...document.querySelectorAll("#log div")].map((d) => d.textContent),
});

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const pages = [];
  const result = {};
  try {
    const one = await browser.newPage({ viewport: { width: 800, height: 700 } });
    const two = await browser.newPage({ viewport: { width: 800, height: 700 } });
    pages.push([one, "alice"], [two, "bob"]);
    for (const [p, nick] of pages) {
      p.on("pageerror", (err) => say(`page ${nick}: ${err}`));
      p.on("console", (m) => say(`page ${nick} console.${m.type()}: ${m.text()}${m.location().url ? " (" + m.location().url + ")" : ""}`));
      await p.goto(url);
      await p.waitForSelector("body[data-ready='1']", { timeout: 15000 });
      await p.evaluate(record);
      await p.fill("#nick", nick);
      await p.click("#nickForm button");
      await p.waitForSelector(`#log div:has-text('you are now ${nick}')`, { timeout: 10000 });
      await p.click("#roomForm button");
      await p.waitForSelector(`#log div:has-text('${nick} joined lobby')`, { timeout: 10000 });
    }
    const both = () => [...document.querySelectorAll("#who li")].map((li) => li.textContent).join(",") === "alice,bob";
    // Page one joined first: bob's join event refreshes its list.
    for (const [p] of pages) await until(p, both, null, 10000, "the presence list is not alice,bob after the joins");
    const rendered = (n) => document.querySelectorAll("#log div.msg").length >= n;
    const sayFrom = (p, n, prefix) => p.evaluate(([n, prefix]) => globalThis.chat.sayMany(n, prefix), [n, prefix]);
    await sayFrom(one, 3, "before rebuild ");
    await until(two, rendered, 3, 10000, "page two did not render the first 3 messages");
    say("READY");

    // (a) An ordinary rebuild: the connections stay open.
    const before = {};
    for (const [p, nick] of pages) before[nick] = await p.evaluate(() => ({ connects: globalThis.chat.client.stats.connects, changes: globalThis.indicator.length }));
    await step("rebuild");
    await sayFrom(one, 2, "after rebuild ");
    await until(two, rendered, 5, 10000, "page two did not render the 2 messages sent after the rebuild");
    const problems = [];
    for (const [p, nick] of pages) {
      const s = await p.evaluate(snapshot);
      result[`${nick}AfterRebuild`] = { indicator: s.indicator, states: s.states, connects: s.stats.connects };
      if (s.stats.connects !== before[nick].connects) problems.push(`${nick}'s page connected again during the rebuild (${before[nick].connects} connects before, ${s.stats.connects} after): ${s.states.join(", ")}`);
      if (s.indicatorHistory.length !== before[nick].changes || s.indicator !== "open") problems.push(`${nick}'s indicator changed during the rebuild: ${s.indicatorHistory.join(" > ")}`);
    }
    if (problems.length) throw new Error(problems.join("; "));
    say("rebuild: connections stayed open, the message arrived");

    // Messages sent just before the restart, still on their way while
    // mullet dev builds.
    await sayFrom(one, 5, "before restart ");
    await until(two, rendered, 10, 10000, "page two did not render the 5 messages sent before the restart");

    // (b) A route change: the API restarts and closes every connection
    // (1001); the pages reconnect and resume by themselves.
    const mark = {};
    for (const [p, nick] of pages) mark[nick] = await p.evaluate(() => ({ changes: globalThis.indicator.length, states: globalThis.states.length, connects: globalThis.chat.client.stats.connects }));
    const restartAt = Date.now();
    await step("routes");
    for (const [p, nick] of pages) {
      // Away from connected, then back, with no user action.
      await until(p, (m) => globalThis.indicator.slice(m.changes).some((s) => s !== "open") && document.getElementById("status").dataset.state === "open" && globalThis.chat.client.stats.connects > m.connects,
        mark[nick], 20000, `${nick}'s page did not reconnect after the API restart`);
      say(`routes: ${nick}'s indicator: ${await p.evaluate((m) => globalThis.indicator.slice(m.changes).join(" > "), mark[nick])}`);
    }
    result.recoveredMs = Date.now() - restartAt;
    await sayFrom(one, 1, "after restart ");
    await until(two, rendered, 11, 15000, "page two did not render the message sent after the restart");
    await until(one, () => globalThis.chat.pending() === 0, null, 10000, "page one's outbox did not empty");
    for (const [p, nick] of pages) await until(p, both, null, 10000, `${nick}'s presence list is not alice,bob after the restart`);
    // A moment for a duplicate or a late replay to show.
    await new Promise((r) => setTimeout(r, 1000));

    const want = [
      ...["001", "002", "003"].map((n) => "before rebuild " + n),
      ...["001", "002"].map((n) => "after rebuild " + n),
      ...["001", "002", "003", "004", "005"].map((n) => "before restart " + n),
      "after restart 001",
    ].map((t) => "alice in lobby: " + t);
    for (const [p, nick] of pages) {
      const s = await p.evaluate(snapshot);
      result[nick] = { ...s, indicatorHistory: s.indicatorHistory.slice(mark[nick].changes), states: s.states.slice(mark[nick].states) };
      const msgs = s.log.filter((l) => l.startsWith("alice in lobby: "));
      if (JSON.stringify(msgs) !== JSON.stringify(want)) problems.push(`${nick}'s page shows ${JSON.stringify(msgs)}, want ${JSON.stringify(want)}`);
      if (s.page.duplicateIDs) say(`${nick}'s page dropped ${s.page.duplicateIDs} duplicates by id`);
      if (s.who.join(",") !== "alice,bob") problems.push(`${nick}'s presence list: ${s.who.join(",")}`);
      if (s.indicator !== "open") problems.push(`${nick}'s indicator: ${s.indicator}`);
    }
    await two.screenshot({ path: path.join(outDir, "chat-after-restart-page-two.png") });
    await one.screenshot({ path: path.join(outDir, "chat-after-restart-page-one.png") });
    console.log("SCREENSHOT " + path.join(outDir, "chat-after-restart-page-two.png"));
    if (problems.length) throw new Error(problems.join("; "));
    say("OK");
  } catch (err) {
    for (const [p, nick] of pages) {
      result[`${nick}AtFailure`] = await p.evaluate(snapshot).catch((e) => String(e));
      await p.screenshot({ path: path.join(outDir, `chat-rebuild-failed-${nick}.png`) }).catch(() => {});
    }
    throw err;
  } finally {
    console.log("RESULT " + JSON.stringify(result));
    await browser.close();
  }
})().then(() => process.exit(0), (err) => {
  console.log("FAIL " + err);
  process.exit(1);
});
