// Opens the mullet dev dashboards of the chat and the rendezvous examples in
// headless Chromium while a Go test drives traffic, checks that they show
// the connections, a group, a waiting barrier and a trace on a timeline,
// uses the send and push forms, and saves screenshots.
// Usage: node dashboard.cjs PLAYWRIGHT_DIR CHAT_DASHBOARD_URL RENDEZVOUS_DASHBOARD_URL OUT_DIR PUSH_TO SECRET...
const { chromium } = require(process.argv[2]);
const [chatURL, rvURL, outDir, pushTo, ...secrets] = process.argv.slice(3);
const path = require("path");

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const t = { timeout: 15000 };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(chatURL);
    await page.waitForSelector("#live.on", t);
    await page.waitForFunction(() => document.querySelectorAll("#connections tbody tr").length >= 2, null, t);
    await page.waitForSelector("#groups .group[data-name='lobby']", t);
    console.log("OK connections: " + (await page.locator("#connections tbody tr").count()));
    console.log("OK group: " + (await page.textContent("#groups .group[data-name='lobby']")).replace(/\s+/g, " "));
    await page.waitForSelector("#log tbody tr", t);
    // The trace of the chat message: its invocation, store calls and pushes.
    await page.waitForSelector("#traces tbody tr", t);
    await page.click("#traces tbody tr");
    await page.waitForFunction(() => document.querySelectorAll("#trace-view .span").length >= 3, null, t);
    const names = await page.$$eval("#trace-view .span", (els) => els.map((e) => e.dataset.name));
    console.log("OK trace: " + names.join(", "));
    await page.screenshot({ path: path.join(outDir, "chat-dashboard.png"), fullPage: true });

    // Send a frame as a new websocket client, from the page.
    await page.click("#ws-connect");
    await page.waitForSelector("#ws-status:has-text('connected')", t);
    await page.fill("#frame", '{"action":"nick","nick":"dash"}');
    await page.click("#ws-send");
    await page.waitForSelector("#received li.in:has-text('dash')", t);
    console.log("OK sent from the page: " + (await page.textContent("#received li.in")));
    // Push to a connection, signed by mullet dev.
    await page.waitForFunction(() => document.querySelectorAll("#push-conn option").length >= 3, null, t);
    await page.selectOption("#push-conn", pushTo);
    await page.fill("#push-data", "pushed from the dashboard");
    await page.click("#push-send");
    await page.waitForSelector("#push-result:has-text('pushed')", t);
    console.log("OK pushed to " + (await page.inputValue("#push-conn")));
    await page.screenshot({ path: path.join(outDir, "chat-dashboard-forms.png"), fullPage: true });

    const rv = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await rv.goto(rvURL);
    await rv.waitForSelector("#live.on", t);
    await rv.waitForSelector("#barriers .barrier.waiting", t);
    console.log("OK waiting barrier: " + (await rv.textContent("#barriers .barrier.waiting")).replace(/\s+/g, " "));
    await rv.screenshot({ path: path.join(outDir, "rendezvous-dashboard.png"), fullPage: true });

    for (const p of [page, rv]) {
      const text = await p.content();
      for (const s of secrets) if (text.includes(s)) throw new Error("the page shows a secret: " + s);
    }
    console.log("OK no secret on either page");
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error("FAIL " + err);
  process.exit(1);
});
