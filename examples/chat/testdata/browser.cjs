// Drives two pages of the chat in headless Chromium: page one sends a
// message, page two must show it. Usage: node browser.cjs PLAYWRIGHT_DIR URL
const { chromium } = require(process.argv[2]);
const url = process.argv[3];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const one = await browser.newPage();
    const two = await browser.newPage();
    for (const p of [one, two]) {
      await p.goto(url);
      await p.waitForSelector("body[data-ready='1']", { timeout: 10000 });
    }
    await one.fill("#nick", "alice");
    await one.click("#nickForm button");
    await one.waitForSelector("#log div:has-text('you are now alice')", { timeout: 10000 });
    await one.click("#roomForm button");
    await one.waitForSelector("#log div:has-text('alice joined lobby')", { timeout: 10000 });
    await two.click("#roomForm button");
    await two.waitForSelector("#log div:has-text('joined lobby')", { timeout: 10000 });
    await one.fill("#text", "hello from page one");
    await one.click("#sendButton");
    await two.waitForSelector("#log div.msg:has-text('alice in lobby: hello from page one')", { timeout: 10000 });
    console.log("OK " + (await two.textContent("#log div.msg")));
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error("FAIL " + err);
  process.exit(1);
});
