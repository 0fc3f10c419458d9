// Drives two chat pages in headless Chromium while the server cuts their
// connections (the Go test TestBrowserChaos does the cutting: it starts
// after this script prints READY and stops when it prints SENT). Page one
// sends N numbered messages; page two must render each exactly once and in
// order, and both presence lists must name both nicks at the end.
// Usage: node chaos.cjs PLAYWRIGHT_DIR URL N OUTDIR
const { chromium } = require(process.argv[2]);
const url = process.argv[3];
const total = Number(process.argv[4]);
const outDir = process.argv[5];
const path = require("path");

const t0 = Date.now();
const say = (s) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`);

async function until(page, fn, arg, timeout, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`${what}: ${err.message.split("\n")[0]}`);
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const pages = [];
  try {
    const one = await browser.newPage({ viewport: { width: 800, height: 700 } });
    const two = await browser.newPage({ viewport: { width: 800, height: 700 } });
    pages.push(one, two);
    for (const [p, nick] of [[one, "alice"], [two, "bob"]]) {
      p.on("pageerror", (err) => say(`page ${nick}: ${err}`));
      await p.goto(url);
      await p.waitForSelector("body[data-ready='1']", { timeout: 10000 });
      await p.fill("#nick", nick);
      await p.click("#nickForm button");
      await p.waitForSelector(`#log div:has-text('you are now ${nick}')`, { timeout: 10000 });
      await p.click("#roomForm button");
      await p.waitForSelector(`#log div:has-text('${nick} joined lobby')`, { timeout: 10000 });
    }
    say("READY");
    // Fifty messages a second, so that the sending spans ten seconds of
    // cuts however fast the machine is.
    for (let from = 1; from <= total; from += 50) {
      await one.evaluate(([n, from]) => globalThis.chat.sayMany(n, "msg ", from), [Math.min(50, total - from + 1), from]);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const rendered = (n) => document.querySelectorAll("#log div.msg").length >= n;
    await until(two, rendered, total, 45000, `page two did not render ${total} messages`);
    await until(one, () => globalThis.chat.pending() === 0, null, 10000, "page one's outbox did not empty");
    say("SENT");
    // The cuts have stopped: presence settles (a member that went away
    // for longer than the grace period would leave).
    for (const p of pages) await p.click("#whoButton");
    const both = () => [...document.querySelectorAll("#who li")].map((li) => li.textContent).join(",") === "alice,bob";
    for (const p of pages) await until(p, both, null, 10000, "the presence list is not alice,bob");

    const log = await two.$$eval("#log div.msg", (ds) => ds.map((d) => d.textContent));
    const want = Array.from({ length: total }, (_, i) => "alice in lobby: msg " + String(i + 1).padStart(3, "0"));
    const problems = [];
    if (log.length !== total) problems.push(`page two rendered ${log.length} messages, want ${total}`);
    for (let i = 0; i < Math.max(log.length, total) && problems.length < 5; i++) {
      if (log[i] !== want[i]) problems.push(`message ${i + 1}: got ${JSON.stringify(log[i])}, want ${JSON.stringify(want[i])}`);
    }
    const result = {};
    for (const [name, p] of [["one", one], ["two", two]]) {
      result[name] = await p.evaluate(() => ({
        stats: globalThis.chat.client.stats,
        page: globalThis.chat.stats,
        who: [...document.querySelectorAll("#who li")].map((li) => li.textContent),
        state: document.getElementById("status").dataset.state,
      }));
    }
    result.rendered = log.length;
    console.log("RESULT " + JSON.stringify(result));
    await two.screenshot({ path: path.join(outDir, "chat-chaos-page-two.png") });
    await one.screenshot({ path: path.join(outDir, "chat-chaos-page-one.png") });
    if (problems.length) throw new Error(problems.join("; "));
    say("OK");
  } catch (err) {
    for (const [i, p] of pages.entries()) {
      await p.screenshot({ path: path.join(outDir, `chat-chaos-failed-page-${i + 1}.png`) }).catch(() => {});
    }
    throw err;
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.log("FAIL " + err);
  process.exit(1);
});
