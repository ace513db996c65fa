// beamflame's SVG and HTML flame graphs in real headless Chromium (Debian's package),
// driven by playwright-core. Fixtures are made with the real command line (priv/beamflame).
// Screenshots go to test/browser/artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const art = join(here, "artifacts");
const XSS1 = "<script>alert(1)</script>";
const XSS2 = "\"><img src=x onerror=alert(2)>";
// total 9: work 6 (66.67%), leaf 4 (44.44%), idle 1, and the two hostile frames 1 each
const FOLDED = [
  "main;work;leaf 4", "main;work 2", "main;idle 1",
  `main;${XSS1} 1`, `main;${XSS2} 1`,
].join("\n") + "\n";

let browser;
const files = {};

before(async () => {
  mkdirSync(art, { recursive: true });
  const input = join(art, "fixture.folded");
  writeFileSync(input, FOLDED);
  for (const fmt of ["svg", "html"]) {
    const out = join(art, `fixture.${fmt}`);
    execFileSync(join(root, "priv", "beamflame"), ["svg", input, "-o", out, "--title", "T"], { stdio: "ignore" });
    files[fmt] = pathToFileURL(out).href;
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => { if (browser) await browser.close(); });

// A page that records every dialog: prompts are answered from `answers`; an alert means
// a frame name ran as code.
async function open(url, answers = []) {
  const page = await browser.newPage({ viewport: { width: 1220, height: 300 } });
  const seen = { alerts: [], errors: [] };
  page.on("dialog", async (d) => {
    if (d.type() === "prompt") await d.accept(answers.shift() ?? "");
    else { seen.alerts.push(d.message()); await d.dismiss(); }
  });
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  await page.goto(url);
  return { page, seen };
}

// index of the frame whose title starts with `name (`
const indexOf = (page, name) => page.evaluate((n) =>
  Array.from(document.querySelectorAll("g.func_g")).findIndex(
    (g) => g.querySelector("title").textContent.startsWith(n + " (")), name);
const frame = (page, i) => page.locator("g.func_g").nth(i);
const rectAttr = (page, i, a) => frame(page, i).locator("rect").getAttribute(a);
const details = (page) => page.locator("#bf-details").textContent();
const matched = (page) => page.locator("#bf-matched").textContent();

for (const fmt of ["svg", "html"]) {
  test(`${fmt}: hover shows name, count and share`, async () => {
    const { page, seen } = await open(files[fmt]);
    await frame(page, await indexOf(page, "work")).hover();
    assert.equal(await details(page), "work (6 samples, 66.67%)");
    await page.screenshot({ path: join(art, `${fmt}-hover.png`) });
    assert.deepEqual(seen.errors, []);
    await page.close();
  });

  test(`${fmt}: click zooms, ancestors kept, reset restores`, async () => {
    const { page } = await open(files[fmt]);
    const work = await indexOf(page, "work"), leaf = await indexOf(page, "leaf");
    const idle = await indexOf(page, "idle"), main = await indexOf(page, "main");
    const before = await rectAttr(page, work, "width");
    await frame(page, work).click();
    assert.equal(await rectAttr(page, work, "width"), "1180.00");
    assert.equal(await rectAttr(page, main, "width"), "1180.00");
    assert.equal(await frame(page, main).evaluate((g) => g.style.opacity), "0.5");
    assert.equal(await frame(page, idle).evaluate((g) => g.style.display), "none");
    assert.equal(await page.evaluate(() => location.hash), `#z=${work}`);
    await frame(page, leaf).hover();
    assert.equal(await details(page), "leaf (4 samples, 44.44%; 66.67% of work)");
    await page.screenshot({ path: join(art, `${fmt}-zoomed.png`) });
    await page.locator("#bf-unzoom").click();
    assert.equal(await rectAttr(page, work, "width"), before);
    assert.equal(await frame(page, idle).evaluate((g) => g.style.display), "");
    assert.equal(await page.evaluate(() => location.hash), "");
    await page.close();
  });

  test(`${fmt}: search highlights matches and reports their share, case toggle`, async () => {
    const { page } = await open(files[fmt], ["wor", "^(work|leaf)$", "WORK"]);
    const work = await indexOf(page, "work");
    await page.locator("#bf-search").click();
    assert.equal(await matched(page), "Matched: 66.67%");
    assert.equal(await rectAttr(page, work, "fill"), "rgb(230,0,230)");
    await page.locator("#bf-search").click();           // nested matches count once
    assert.equal(await matched(page), "Matched: 66.67%");
    await page.locator("#bf-search").click();           // case-sensitive by default
    assert.equal(await matched(page), "Matched: 0.00%");
    await page.locator("#bf-case").click();
    assert.equal(await matched(page), "Matched: 66.67%");
    assert.equal(await page.evaluate(() => location.hash), "#s=WORK&i=1");
    await page.screenshot({ path: join(art, `${fmt}-search.png`) });
    await page.close();
  });

  test(`${fmt}: the URL fragment restores zoom and search`, async () => {
    const probe = await open(files[fmt]);
    const work = await indexOf(probe.page, "work");
    await probe.page.close();
    const { page } = await open(`${files[fmt]}#z=${work}&s=leaf`);
    assert.equal(await rectAttr(page, work, "width"), "1180.00");
    assert.equal(await matched(page), "Matched: 44.44%");
    await page.screenshot({ path: join(art, `${fmt}-restored.png`) });
    await page.close();
  });

  test(`${fmt}: hostile frame names show as text and run nothing`, async () => {
    const { page, seen } = await open(files[fmt], ["img"]);
    for (const name of [XSS1, XSS2]) {
      const i = await indexOf(page, name);
      assert.ok(i >= 0, `frame ${name} is listed by its literal name`);
      await frame(page, i).hover();
      assert.ok((await details(page)).startsWith(name + " ("));
      await frame(page, i).click();                      // zoom into it, then back
      await page.locator("#bf-unzoom").click();
    }
    await page.locator("#bf-search").click();            // search for "img" too
    assert.equal(await page.locator("img").count(), 0);
    assert.equal(await page.locator("script").count(), 1);  // ours only
    assert.deepEqual(seen.alerts, [], "no frame name may run as code");
    assert.deepEqual(seen.errors, []);
    await page.screenshot({ path: join(art, `${fmt}-hostile.png`) });
    await page.close();
  });
}
