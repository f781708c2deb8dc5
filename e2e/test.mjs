// End-to-end test of the Kiln web UI in a real Chromium against a real
// controller (started by run.sh). Every wait has a deadline; the first
// failure stops the run with a message naming the step, and a screenshot
// of the page at that moment is saved as failure.png.
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const BASE = required("KILN_URL");
const POOL_URL = required("KILN_POOL_URL");
const SHOTS = process.env.KILN_SCREENSHOTS || new URL("./screenshots", import.meta.url).pathname;
const CHROMIUM = process.env.KILN_CHROMIUM || "/usr/bin/chromium";
const PASSWORD = "e2e-Password-1";
const DEADLINE_MS = 110_000; // the whole run
const WAIT_MS = 20_000; // one condition

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`e2e: ${name} is not set (run e2e/run.sh)`);
    process.exit(2);
  }
  return v;
}

const started = Date.now();
const problems = []; // page errors and CSP violations, reported at the end
let page;

// step runs one named part of the test and reports how long it took.
async function step(name, fn) {
  if (Date.now() - started > DEADLINE_MS) throw new Error(`out of time before "${name}"`);
  const t0 = Date.now();
  try {
    await fn();
  } catch (err) {
    err.message = `step "${name}": ${err.message}`;
    throw err;
  }
  console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

// until polls fn (which returns a truthy value when done) every 200 ms.
async function until(what, fn, timeout = WAIT_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
    await page.waitForTimeout(200);
  }
}

const textOf = (sel) => page.locator(sel).first().textContent({ timeout: 2000 });
const visible = (sel) => page.locator(sel).first().isVisible();

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, name + ".png"), fullPage: true });
}

async function go(route, viewId) {
  await page.evaluate((r) => { location.hash = "#/" + r; }, route);
  await page.locator("#" + viewId).waitFor({ state: "visible", timeout: 5000 });
}

// api calls the REST API from the page, with its session cookie and CSRF token.
function api(method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const res = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body && JSON.stringify(body) });
    return { status: res.status, body: await res.text() };
  }, { method, path, body });
}

async function setupAndLogin() {
  await step("setup view on first start", async () => {
    await page.goto(BASE + "/");
    await page.locator("#setup-form").waitFor({ state: "visible", timeout: 10_000 });
    check(!(await visible("#nav")), "navigation shown before the password is set");
    await page.fill("#setup-password", PASSWORD);
    await page.fill("#setup-password2", PASSWORD + "x");
    await page.click("#setup-submit");
    await until("the mismatch error", async () => /differ/.test(await textOf("#setup-error")));
    await shot("01-setup");
  });

  await step("set the admin password", async () => {
    await page.fill("#setup-password2", PASSWORD);
    await page.click("#setup-submit");
    await page.locator("#view-dashboard").waitFor({ state: "visible", timeout: 10_000 });
    check(await visible("#logout"), "no logout button after setup");
  });

  await step("log out, wrong password refused, log in again", async () => {
    await page.click("#logout");
    await page.locator("#login-form").waitFor({ state: "visible", timeout: 10_000 });
    check(!(await visible("#nav")), "navigation still shown after logout");
    const s = await api("GET", "/api/v1/session");
    check(s.status === 401, `GET /api/v1/session after logout: ${s.status}, want 401`);
    await page.fill("#login-password", "not-the-password");
    await page.click("#login-submit");
    await until("the wrong-password message", async () => /wrong/i.test(await textOf("#login-error")));
    await shot("02-login");
    await page.fill("#login-password", PASSWORD);
    await page.click("#login-submit");
    await page.locator("#view-dashboard").waitFor({ state: "visible", timeout: 10_000 });
  });

  await step("session survives a reload", async () => {
    await page.reload();
    await page.locator("#view-dashboard").waitFor({ state: "visible", timeout: 10_000 });
  });
}

async function dashboard() {
  await step("dashboard shows a hashrate from the simulated board", async () => {
    await go("dashboard", "view-dashboard");
    await until("the live stream", async () => (await textOf("#conn-status")) === "live");
    const hs = await until("a hashrate above zero", async () => {
      const v = Number(await page.locator("#hashrate").getAttribute("data-value"));
      return v > 0 && v;
    }, 40_000);
    const shown = await textOf("#hashrate");
    check(/H\/s$/.test(shown), `hashrate shown as ${JSON.stringify(shown)}`);
    console.log(`     hashrate ${shown} (${hs} H/s)`);
    await until("accepted shares", async () => Number((await textOf("#accepted")).replace(/,/g, "")) > 0, 40_000);
  });

  await step("history ranges load", async () => {
    for (const range of ["6h", "24h", "7d", "1h"]) {
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url().includes("/api/v1/history?range=" + range), { timeout: 5000 }),
        page.click(`#history-range button[data-range="${range}"]`),
      ]);
      check(res.status() === 200, `GET /api/v1/history?range=${range}: ${res.status()}`);
      const body = await res.json();
      check(Array.isArray(body.samples), `history ${range} has no samples array`);
    }
    check((await textOf("#history-error")) === "", "history error shown: " + (await textOf("#history-error")));
    await page.waitForTimeout(2500); // two more live points on the chart
    await shot("03-dashboard");
  });
}

async function pools() {
  await step("pool test connects to the demo pool", async () => {
    await go("pools", "view-pools");
    await until("the pools table", async () => (await page.locator("#pools-body tr[data-key]").count()) > 0);
    await page.fill("#pool-url", POOL_URL);
    await page.fill("#pool-user", "e2e.worker");
    await page.fill("#pool-password", "x");
    await page.click("#pool-test");
    const ok = await until("the test result", async () => page.locator("#pool-test-result").getAttribute("data-ok"));
    check(ok === "true", "pool test failed: " + (await textOf("#pool-test-result")));
  });

  await step("add the pool and see it connect", async () => {
    await page.click("#pool-save");
    await until("the new pool in the table", async () => {
      const urls = await page.locator("#pools-body td.pool .url").allTextContents();
      return urls.length === 1 && urls[0].trim() === POOL_URL;
    });
    await until("the pool to become active", async () => (await textOf('[data-testid="pool-status-0"]')).trim() === "active", 30_000);
    await go("dashboard", "view-dashboard");
    await until("the dashboard to mine on it", async () => (await textOf("#active-pool")) === POOL_URL, 30_000);
    await go("pools", "view-pools");
  });

  await step("add, reorder and delete a second pool", async () => {
    await page.fill("#pool-url", "stratum+tcp://127.0.0.1:9");
    await page.fill("#pool-user", "backup");
    await page.click("#pool-save");
    const urls = () => page.locator("#pools-body td.pool .url").allTextContents();
    await until("two pools", async () => (await urls()).length === 2);
    await page.click('[data-testid="pool-up-1"]');
    await until("the backup pool first", async () => (await urls())[0].includes(":9"));
    await page.click('[data-testid="pool-down-0"]');
    await until("the backup pool second", async () => (await urls())[1].includes(":9"));
    await page.click('[data-testid="pool-delete-1"]'); // confirm() is accepted
    await until("one pool left", async () => (await urls()).length === 1);
    check((await urls())[0] === POOL_URL, "the wrong pool was deleted");
    await until("the pool to stay active", async () => (await textOf('[data-testid="pool-status-0"]')).trim() === "active");
    await shot("04-pools");
  });
}

async function hardware() {
  await step("hardware page: chains, chips and heat map", async () => {
    await go("hardware", "view-hardware");
    await until("a chain row", async () => (await page.locator("#chains-body tr[data-key]").count()) > 0);
    await until("a chip row", async () => (await page.locator("#chips-body tr[data-key]").count()) > 0);
    const cells = await page.locator("#heatmap .chip").count();
    check(cells > 0, "the heat map has no chips");
    await page.click('#heatmap-metric button[data-metric="hashrate"]');
    check(/H\/s/.test(await textOf("#heatmap-max")), "hashrate scale not shown");
    await page.click('#heatmap-metric button[data-metric="temperature"]');
    await shot("05-hardware");
  });

  await step("hardware page: per-chip clock within the board's limits", async () => {
    const input = page.locator('#chips-body input.chip-clock').first();
    const max = await until("the clock limits on the chip input", async () => input.getAttribute("max"));
    const min = Number(await input.getAttribute("min"));
    await input.fill(String(Number(max) + 50));
    await page.locator('#chips-body .chip-clock-form button').first().click();
    await until("the out-of-range message", async () => /between/.test(await textOf("#chips-status")));
    const want = Math.round((min + Number(max)) / 2);
    await input.fill(String(want));
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/api/v1/tuning/chips"), { timeout: 5000 }),
      page.locator('#chips-body .chip-clock-form button').first().click(),
    ]);
    const msg = await until("the answer to the clock change", async () => {
      const t = await textOf("#chips-status");
      return !/between/.test(t) && t;
    });
    if (res.status() === 200) {
      check(new RegExp(`set to ${want} MHz`).test(msg), "chip clock set, but the page says: " + msg);
      await until(`chip 0 of chain 0 at ${want} MHz`, async () => {
        const boards = JSON.parse((await api("GET", "/api/v1/boards")).body);
        return boards[0].chains[0].chips[0].frequency_mhz === want;
      }, 5000);
    } else {
      // Boards whose chips cannot be clocked one by one answer 404 with a reason.
      check(res.status() === 404 && /cannot be clocked/.test(msg), `PUT /api/v1/tuning/chips ${res.status()}, page says: ${msg}`);
      console.log(`     chip clock: ${msg}`);
    }
  });
}

async function tuning() {
  await step("fan to manual 70 % and the readout follows", async () => {
    await go("tuning", "view-tuning");
    await until("the tuning form", async () => {
      const auto = await page.locator("#fan-mode-auto").isChecked();
      const manual = await page.locator("#fan-mode-manual").isChecked();
      return auto || manual;
    });
    await page.check("#fan-mode-manual");
    await page.fill("#fan-percent", "70");
    await page.click("#fan-save");
    await until("the fan setting to be saved", async () => /70 %/.test(await textOf("#fan-saved")));
    check((await textOf("#fan-error")) === "", "fan error: " + (await textOf("#fan-error")));
    await until("the live fan readout at 70 %", async () => /70 %/.test(await textOf('[data-testid="tuning-fan-0"]')), 15_000);
    await go("dashboard", "view-dashboard");
    await until("the dashboard fan at 70 %", async () =>
      Number(await page.locator('[data-testid="fan-0-percent"]').getAttribute("data-value")) === 70, 10_000);
    // Showing the page reloads the board forms: wait for the fresh ones
    // before typing, or the reload would wipe what was typed.
    const fills = Number(await page.locator("#board-forms").getAttribute("data-fills"));
    await go("tuning", "view-tuning");
    await until("the board forms reloaded", async () =>
      Number(await page.locator("#board-forms").getAttribute("data-fills")) > fills);
    const max = await page.locator("#board-0-frequency").getAttribute("max");
    check(max !== null && Number(max) > 0, "board 0 frequency input has no max from the limits");
    await page.fill("#board-0-frequency", String(Number(max) + 1000));
    await page.click("#board-0-save");
    await until("the out-of-range message", async () => /between/.test(await textOf('[data-testid="board-0"] .form-error')));
    await shot("06-tuning");
    const min = Number(await page.locator("#board-0-frequency").getAttribute("min"));
    const want = Math.round((min + Number(max)) / 2);
    await page.fill("#board-0-frequency", String(want));
    await page.click("#board-0-save");
    await until("the board setting to be applied", async () => /Applied/.test(await textOf('[data-testid="board-0"] .saved')));
    const t = JSON.parse((await api("GET", "/api/v1/tuning")).body);
    check(t.boards[0].frequency_mhz === want, `board 0 runs at ${t.boards[0].frequency_mhz} MHz, want ${want}`);
  });

  await step("tuning page: protection and autotune cards", async () => {
    await until("chain 0 protection ok", async () => (await textOf('[data-testid="protection-state-0-0"]')) === "ok");
    const state = await until("the autotune state", async () => {
      const s = await page.locator("#autotune-state").getAttribute("data-state");
      return s && s;
    });
    if (state === "unavailable") {
      check(!(await visible("#autotune-form")), "autotune form shown on a board that cannot be autotuned");
      console.log("     autotune: " + (await textOf("#autotune-unavailable")));
      return;
    }
    check(await visible("#autotune-form"), "autotune form hidden");
    await page.selectOption("#autotune-mode", "power_target");
    check(await visible("#autotune-power"), "power target input hidden in power_target mode");
    await page.fill("#autotune-power", "");
    await page.click("#autotune-start");
    await until("the missing power target message", async () => /power target/i.test(await textOf("#autotune-error")));
    await page.selectOption("#autotune-mode", "max_hashrate");
    check(!(await visible("#autotune-power")), "power target input shown in max_hashrate mode");
    console.log("     autotune: " + state);
  });
}

async function protection() {
  await step("simulated fan stall: the protection stops the chain", async () => {
    await go("system", "view-system");
    await page.locator("#sim-card").waitFor({ state: "visible", timeout: 5000 });
    await until("no active faults", async () => (await page.locator('[data-testid="sim-no-faults"]').count()) === 1);
    await page.selectOption("#sim-fault", "fan_stall");
    check(await page.locator("#sim-chain").isDisabled(), "chain select enabled for a board-wide fault");
    const t0 = Date.now();
    await page.click("#sim-inject");
    await until("the fan stall listed", async () => (await page.locator('#sim-faults [data-fault="fan_stall"]').count()) === 1);
    await go("dashboard", "view-dashboard");
    await until("the dashboard banner", async () => /Chain 0 stopped: fan stall/i.test(await textOf("#protection-banner-list")), 10_000);
    console.log(`     banner after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${await textOf("#protection-banner-list")}`);
    await shot("12-dashboard-banner");
    await go("tuning", "view-tuning");
    await until("chain 0 stopped on the tuning page", async () => (await textOf('[data-testid="protection-state-0-0"]')) === "stopped", 5000);
    check(/fan/i.test(await textOf('#protection-body tr[data-key="0-0"]')), "no reason shown for the stop");
    await shot("09-protection");
    await go("system", "view-system");
    await until("the stop in the event log", async () => {
      await page.click("#events-refresh");
      const rows = await page.locator('#events-body [data-testid="event-row"]').evaluateAll((trs) =>
        trs.map((tr) => tr.querySelector('[data-testid="event-source"]').textContent + " " + tr.textContent));
      return rows.some((r) => r.startsWith("protection ") && /stopped: fan stall/.test(r)) &&
        rows.some((r) => r.startsWith("sim ") && /fan_stall/.test(r));
    }, 5000);
    await shot("10-simulation");
  });

  await step("clearing the faults lets the chain run again", async () => {
    const t0 = Date.now();
    await page.click("#sim-clear");
    await until("no active faults", async () => (await page.locator('[data-testid="sim-no-faults"]').count()) === 1);
    await go("tuning", "view-tuning");
    await until("chain 0 ok again", async () => (await textOf('[data-testid="protection-state-0-0"]')) === "ok", 15_000);
    await go("dashboard", "view-dashboard");
    await until("the banner gone", async () => !(await visible("#protection-banner")), 5000);
    console.log(`     chain ok after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  await step("repeated stops lock the chain; Reset unlocks it", async () => {
    await go("system", "view-system");
    await page.selectOption("#sim-fault", "fan_stall");
    const chainState = async () => JSON.parse((await api("GET", "/api/v1/protection")).body)[0].state;
    const noFaults = async () => (await page.locator('[data-testid="sim-no-faults"]').count()) === 1;
    let state = "";
    for (let i = 0; i < 5 && state !== "locked"; i++) {
      await page.click("#sim-inject");
      state = await until("the chain to stop", async () => {
        const s = await chainState();
        return (s === "stopped" || s === "locked") && s;
      }, 10_000);
      await page.click("#sim-clear");
      await until("no active faults", noFaults);
      if (state === "locked") break;
      state = await until("the chain to restart", async () => {
        const s = await chainState();
        return (s === "ok" || s === "locked") && s;
      }, 10_000);
    }
    check(state === "locked", "the chain did not lock after 5 protective stops");
    await go("dashboard", "view-dashboard");
    await until("the locked banner", async () => /Chain 0 locked/.test(await textOf("#protection-banner-list")), 5000);
    await go("tuning", "view-tuning");
    await until("chain 0 locked on the tuning page", async () => (await textOf('[data-testid="protection-state-0-0"]')) === "locked", 5000);
    await page.click('[data-testid="protection-reset-0-0"]'); // confirm() is accepted
    await until("the unlock message", async () => /unlocked/.test(await textOf("#protection-status")), 5000);
    await until("chain 0 ok after the reset", async () => (await textOf('[data-testid="protection-state-0-0"]')) === "ok", 10_000);
    check((await page.locator('[data-testid="protection-reset-0-0"]').count()) === 0, "Reset button still shown");
  });
}

// autotune starts a run from the tuning page, stops it, resumes it and
// stops it again (a whole run takes minutes on the simulated board).
async function autotune() {
  const stateOf = () => page.locator("#autotune-state").getAttribute("data-state");
  // is returns true when the run is in state want, else fails with what
  // the page shows (which until reports on a timeout).
  const is = (want) => async () => {
    const s = await stateOf();
    if (s !== want) throw new Error(`state ${s}: ${await textOf("#autotune-message")} ${await textOf("#autotune-error")}`);
    return true;
  };
  const posted = () => page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/api/v1/autotune"), { timeout: 5000 });

  await step("autotune: start, stop, resume", async () => {
    await go("tuning", "view-tuning");
    const state = await until("the autotune state", async () => stateOf());
    check(state === "idle", `autotune state ${state} before any run, want idle`);
    await page.selectOption("#autotune-mode", "efficiency");
    await page.fill("#autotune-budget", "2");
    const [start] = await Promise.all([posted(), page.click("#autotune-start")]);
    const body = start.postDataJSON();
    check(body.mode === "efficiency" && body.hw_error_budget === 0.02 && !body.resume, "start request: " + JSON.stringify(body));
    await until("the run to be running", is("running"), 10_000);
    check(await page.locator("#autotune-start").isDisabled(), "Start enabled while a run is going");
    await until("progress above zero", async () => Number(await page.locator("#autotune-progress").evaluate((p) => p.value)) > 0, 15_000);
    await shot("13-autotune");
    await page.click("#autotune-stop");
    await until("the run to be stopped", is("stopped"), 10_000);
    check(!(await page.locator("#autotune-resume").isDisabled()), "Resume disabled on a stopped run");
    const [resume] = await Promise.all([posted(), page.click("#autotune-resume")]);
    check(resume.postDataJSON().resume === true && resume.postDataJSON().mode === "efficiency", "resume request: " + resume.postData());
    await until("the run to be running again", is("running"), 10_000);
    await page.click("#autotune-stop");
    await until("the run to be stopped again", is("stopped"), 10_000);
  });
}

async function system() {
  await step("system page: info, logs", async () => {
    await go("system", "view-system");
    await until("the version", async () => (await textOf("#sys-version")) !== "–");
    await until("events in the log", async () => (await page.locator('#events-body [data-testid="event-row"]').count()) > 0);
    await until("shares in the log", async () => (await page.locator('#shares-body [data-testid="share-row"]').count()) > 0);
    const canReboot = !(await page.locator("#reboot").isDisabled());
    if (!canReboot) check((await textOf("#reboot-note")).length > 10, "reboot disabled without explanation");
  });

  await step("firmware: a foreign image is refused, a signed one is written", async () => {
    const good = process.env.KILN_FW_GOOD, foreign = process.env.KILN_FW_FOREIGN;
    check(Boolean(good && foreign), "run.sh made no test images (bin/kiln-image missing?)");
    await until("the firmware card", async () => (await textOf("#fw-running")) !== "–");
    await page.setInputFiles("#fw-file", foreign);
    await page.click("#fw-upload");
    await until("the refusal", async () => /signature|key/i.test(await textOf("#fw-status")));
    await page.setInputFiles("#fw-file", good);
    await page.click("#fw-upload");
    await until("the image written", async () => /written to slot b/.test(await textOf("#fw-status")));
    await until("the pending slot", async () => /reboot to try it/i.test(await textOf("#fw-state")));
    await shot("14-firmware");
  });

  await step("API token: create, use, revoke", async () => {
    await page.fill("#token-name", "e2e");
    await page.click("#token-create");
    const token = await until("the new token", async () => page.locator("#token-value").inputValue());
    const res = await fetch(BASE + "/api/v1/summary", { headers: { Authorization: "Bearer " + token } });
    check(res.status === 200, `GET /api/v1/summary with the token: ${res.status}`);
    await until("the token in the list", async () => (await page.locator('[data-testid="token-row"]').count()) === 1);
    await page.click('[data-testid="token-revoke"]');
    await until("the token gone", async () => (await page.locator('[data-testid="token-row"]').count()) === 0);
    const again = await fetch(BASE + "/api/v1/summary", { headers: { Authorization: "Bearer " + token } });
    check(again.status === 401, `revoked token still works: ${again.status}`);
  });

  await step("config export and import", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: 10_000 }),
      page.click("#config-export"),
    ]);
    const file = join(tmpdir(), "kiln-e2e-config-" + process.pid + ".json");
    await download.saveAs(file);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    rmSync(file);
    check(doc.kiln_config === 1, "export lacks kiln_config: 1");
    check(Array.isArray(doc.pools) && doc.pools.some((p) => p.url === POOL_URL), "export lacks the pool");
    await page.setInputFiles("#config-file", { name: "kiln.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(doc)) });
    await page.click("#config-import");
    await until("the import result", async () => /Imported/.test(await textOf("#config-status")));
    await page.setInputFiles("#config-file", { name: "bad.json", mimeType: "application/json", buffer: Buffer.from('{"kiln_config":1,"pools":[{"url":"nope"}]}') });
    await page.click("#config-import");
    await until("the refusal of a bad file", async () => /failed/.test(await textOf("#config-status")));
    await page.click("#events-refresh");
    await page.waitForTimeout(300);
    await shot("07-system");
  });
}

async function phone(browser, storageState) {
  await step("dashboard and tuning on a phone (390×844)", async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, storageState });
    const prev = page;
    page = await ctx.newPage();
    watch(page);
    try {
      await page.goto(BASE + "/#/dashboard");
      await page.locator("#view-dashboard").waitFor({ state: "visible", timeout: 10_000 });
      await until("a hashrate", async () => Number(await page.locator("#hashrate").getAttribute("data-value")) > 0);
      await page.waitForTimeout(500);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `the page is ${overflow}px wider than the phone`);
      const navOverflow = await page.evaluate(() => {
        const n = document.getElementById("nav");
        return n.scrollWidth - n.clientWidth;
      });
      check(navOverflow <= 0, `the navigation is ${navOverflow}px wider than the phone`);
      await shot("08-dashboard-phone");
      await go("tuning", "view-tuning");
      await until("the protection table", async () => (await page.locator("#protection-body tr[data-key]").count()) > 0);
      const tuningOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(tuningOverflow <= 0, `the tuning page is ${tuningOverflow}px wider than the phone`);
      await shot("11-tuning-phone");
    } finally {
      await ctx.close();
      page = prev;
    }
  });
}

// watch collects script errors and CSP refusals; a failed resource load
// (the expected 401s) is not one.
function watch(p) {
  p.on("pageerror", (err) => problems.push("page error: " + err.message));
  p.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text())) problems.push("console: " + msg.text());
  });
  p.on("dialog", (d) => d.accept());
}

async function main() {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"], timeout: 30_000 });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    watch(page);
    try {
      await setupAndLogin();
      await dashboard();
      await pools();
      await hardware();
      await tuning();
      await system();
      await phone(browser, await ctx.storageState());
      await protection();
      await autotune();
      check(problems.length === 0, "errors in the page:\n  " + problems.join("\n  "));
    } catch (err) {
      await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
      if (problems.length) err.message += "\nerrors in the page:\n  " + problems.join("\n  ");
      throw err;
    }
  } finally {
    await browser.close();
  }
  console.log(`e2e: all passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
}

main().catch((err) => {
  console.error("FAIL " + err.message);
  process.exit(1);
});
