// Drives Debian's chromium (headless, through playwright-core) against a running imagewatch.
// Started by tests/suite/console_browser.rs, which feeds the service and checks the API side;
// each phase here checks what an analyst sees. Exits non-zero with a message on any failure.
//
// Environment: BASE (the console, http://127.0.0.1:PORT), OTHER (a page on another origin),
// SHOTS (where screenshots go), TOKEN (phase "token"), FORM_* (the ticket the form creates).
import { chromium } from "playwright-core";
import { connect } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const phase = process.argv[2];
const { BASE, OTHER, SHOTS } = process.env;
const fail = (msg) => { throw new Error(`[${phase}] ${msg}`); };
const check = (cond, msg) => { if (!cond) fail(msg); };

const browser = await chromium.launchPersistentContext(
  mkdtempSync(join(tmpdir(), "imagewatch-chromium-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
const page = browser.pages()[0] || await browser.newPage();
const errors = [];
// Script errors of the console's own pages; refused requests (401, 400) are expected.
const ours = () => page.url().startsWith(BASE);
page.on("pageerror", (e) => { if (ours()) errors.push(String(e)); });
page.on("console", (m) => {
  if (ours() && m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
});
const shot = (name) => SHOTS && page.screenshot({ path: join(SHOTS, `console-${name}.png`) });

// Sends syslog lines over TCP, each `%STAMPn%` replaced by the device stamp of now minus n
// minutes (`Dec  7 14:41:49.951`), so the device clock agrees with the arrival time.
function sendSyslog(addr, template) {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const stamp = (mins) => {
    const d = new Date(Date.now() - mins * 60000);
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ` +
      `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
  };
  const text = template.replace(/%STAMP(\d)%/g, (_, n) => stamp(Number(n)));
  const [host, port] = addr.split(":");
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host, () => socket.end(text + "\n", resolve));
    socket.on("error", reject);
  });
}

async function queueRows() {
  await page.goto(BASE + "/");
  await page.waitForSelector("table.alerts tbody tr", { timeout: 15000 });
  return page.locator("table.alerts tbody tr");
}

try {
  if (phase === "main") {
    // The queue lists the alerts, newest first, severity in words.
    const rows = await queueRows();
    check(await rows.count() >= 2, "the queue lists both alerts");
    const text = await page.locator("table.alerts").innerText();
    for (const want of ["rtr-0042", "edge-0091", "Suppressed by CHG-RTR", "Escalated: outside CHG-EDGE", "critical"]) {
      check(text.includes(want), `queue shows ${want}: ${text}`);
    }
    // Keyboard: j focuses the first alert, Enter opens it.
    await page.locator("body").press("j");
    check(await page.evaluate(() => document.activeElement.classList.contains("row-link")),
      "j focuses an alert link");
    await shot("queue");
    // The filter narrows the queue without loading everything.
    await page.selectOption("#f-status", "suppressed");
    await page.click("#filters button[type=submit]");
    await page.waitForSelector("table.alerts tbody tr");
    const filtered = await page.locator("table.alerts tbody").innerText();
    check(filtered.includes("rtr-0042") && !filtered.includes("edge-0091"), `filtered: ${filtered}`);

    // The escalated alert: reason, evidence with kinds, the ticket and the field that did not fit.
    await page.goto(BASE + "/");
    await page.waitForSelector("table.alerts tbody tr");
    await page.locator("tr", { hasText: "edge-0091" }).locator("a.row-link").click();
    await page.waitForSelector("ol.evidence li");
    const kinds = await page.locator("ol.evidence li .kind").allInnerTexts();
    for (const k of ["transfer", "boot_var", "reload", "boot"]) check(kinds.includes(k), `evidence has ${k}: ${kinds}`);
    check(await page.locator('[data-cover="CHG-EDGE"]').count() === 1, "the half-fitting ticket is shown");
    const misfits = await page.locator("ul.misfits").innerText();
    check(misfits.includes("images"), `the image did not fit: ${misfits}`);
    check(await page.locator("svg.timeline .mark-transfer").count() >= 1, "evidence drawn on the time line");
    check(await page.locator('svg.timeline [data-span="CHG-EDGE"]').count() === 1, "the ticket drawn as a span");
    await shot("alert");
    // Triage it through the form.
    await page.check('input[name=state][value=confirmed]');
    await page.fill("#triage-note", "unknown TFTP server, image not approved");
    await page.click("#triage-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("triage-now").innerText.includes("Confirmed"));

    // The suppressed alert names its ticket.
    await page.goto(BASE + "/");
    await page.waitForSelector("table.alerts tbody tr");
    await page.locator("tr", { hasText: "rtr-0042" }).locator("a.row-link").click();
    await page.waitForSelector("ol.evidence li");
    check(await page.locator('[data-cover="CHG-RTR"]').count() === 1, "the covering ticket is shown");
    check((await page.locator(".meta").innerText()).includes("Suppressed by CHG-RTR"), "suppressed by CHG-RTR");

    // The device page draws the version change and the ticket span.
    await page.goto(BASE + "/devices/edge-0091");
    await page.waitForSelector("svg.timeline");
    const versions = await page.locator("svg.timeline .band").evaluateAll((b) => b.map((g) => g.dataset.version));
    check(versions.includes("15.6(3)M9") && versions.includes("15.7(3)M9"), `version bands: ${versions}`);
    check(await page.locator("svg.timeline line.change").count() >= 1, "the version change is drawn");
    check(await page.locator('svg.timeline .span-ticket[data-span="CHG-EDGE"]').count() === 1, "ticket span drawn");
    for (const row of ["mark-transfer", "mark-stage", "mark-reload", "mark-boot"]) {
      check(await page.locator(`svg.timeline .${row}`).count() >= 1, `device time line has ${row}`);
    }
    await shot("device");

    // The changes page: a refused field is named next to it, then a ticket is created.
    await page.goto(BASE + "/changes");
    await page.waitForSelector("table.entries");
    await page.fill("#t-id", process.env.FORM_ID);
    await page.fill("#t-devices", process.env.FORM_DEVICE);
    await page.fill("#t-start", "yesterday");
    await page.fill("#t-end", process.env.FORM_END);
    await page.click("#ticket-form button[type=submit]");
    await page.waitForSelector("#t-start-error:not(:empty)");
    check(await page.locator("#t-start").getAttribute("aria-invalid") === "true", "start marked invalid");
    await shot("changes");
    await page.fill("#t-start", process.env.FORM_START);
    await page.fill("#t-servers", "10.10.0.5");
    await page.fill("#t-users", "jsmith");
    await page.click("#ticket-form button[type=submit]");
    await page.waitForSelector(`tr[data-entry-id="${process.env.FORM_ID}"]`);

    // A page on another origin tries to add a ticket: refused.
    await page.goto(OTHER + "/");
    await page.waitForFunction(() => document.title.startsWith("done"), null, { timeout: 10000 });
    await page.click("#submit");
    await page.waitForLoadState();
    const answer = await page.locator("body").innerText();
    check(answer.includes("refused"), `the form post from another origin is refused: ${answer}`);

    // A later sequence on the device the form's ticket names: it appears in the open queue
    // without a reload, suppressed by that ticket.
    await queueRows();
    await page.evaluate(() => { window.notReloaded = true; });
    await sendSyslog(process.env.SYSLOG, process.env.LATER_LINES);
    const later = page.locator("table.alerts tr", { hasText: process.env.FORM_DEVICE });
    await later.waitFor({ timeout: 20000 });
    check(await page.evaluate(() => window.notReloaded === true), "the queue was not reloaded");
    const laterText = await later.innerText();
    check(laterText.includes("Suppressed by " + process.env.FORM_ID), `later sequence: ${laterText}`);
    check((await page.locator("#live").innerText()).includes("New alerts"), "new alerts announced");
  } else if (phase === "restart") {
    // Triage survived the restart and shows in the queue.
    await queueRows();
    const row = await page.locator("tr", { hasText: "edge-0091" }).innerText();
    check(row.includes("Confirmed"), `triage after restart: ${row}`);
    await page.selectOption("#f-triage", "confirmed");
    await page.click("#filters button[type=submit]");
    await page.waitForSelector("table.alerts tbody tr");
    check((await page.locator("table.alerts tbody tr").count()) === 1, "the triage filter keeps one");
    // Readable on a narrow screen: nothing wider than the viewport.
    await page.setViewportSize({ width: 390, height: 800 });
    for (const path of ["/", "/devices/edge-0091", "/changes"]) {
      await page.goto(BASE + path);
      await page.waitForSelector("#part[aria-busy=false]");
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      check(wide <= 390, `${path} fits 390 px wide (${wide})`);
    }
  } else if (phase === "token") {
    // With a token, the console asks for it once, then works.
    await page.goto(BASE + "/");
    await page.waitForSelector("#token-dialog[open]");
    await page.fill("#token-input", "wrong");
    await page.click("#token-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("token-error").textContent.includes("refused"));
    await page.fill("#token-input", process.env.TOKEN);
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("table.alerts tbody tr");
    await page.goto(BASE + "/devices/edge-0091");
    await page.waitForSelector("svg.timeline");
    check(await page.locator("#token-dialog[open]").count() === 0, "asked once per tab");
    const stored = await page.evaluate(() => document.cookie);
    check(stored === "", `no cookie: ${stored}`);
  } else {
    fail("unknown phase");
  }
  check(errors.length === 0, `no script errors: ${errors.join("; ")}`);
  console.log(`[${phase}] ok`);
} finally {
  await browser.close();
}
