// The Kiln web UI shell: first-start setup, login, hash routes, the live
// status stream and the shared notice bar. Each section of the page lives
// in its own module; everything goes through the public REST API v1
// (GET /api/v1/summary, /api/v1/stream...).

import * as api from "./api.js";
import { text } from "./dom.js";
import { formatCount } from "./format.js";
import { createDashboard } from "./dashboard.js";
import { createPools } from "./pools.js";
import { createHardware } from "./hardware.js";
import { createTuning } from "./tuning.js";
import { createSystem } from "./system.js";

const byId = (id) => document.getElementById(id);

const ROUTES = ["dashboard", "pools", "hardware", "tuning", "system"];
const DEFAULT_ROUTE = "dashboard";

// The stream sends an event every 2 s; without one for STALL_MS it is
// reopened. While it is down, POLL_MS polls keep the page current.
const STALL_MS = 10000;
const POLL_MS = 5000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

const state = {
  authed: false,
  view: "", // the section shown now
  latest: null, // the last status: {summary, pools, fans, boards}
  views: {},
};

// ---- notice bar ----------------------------------------------------------

// notify shows a message in the bar under the header; errors stay until
// dismissed, other messages fade after a few seconds.
let noticeTimer = 0;
function notify(message, kind = "error") {
  const bar = byId("notice");
  text(byId("notice-text"), message);
  bar.className = "notice notice-" + kind;
  bar.hidden = false;
  clearTimeout(noticeTimer);
  if (kind !== "error") noticeTimer = setTimeout(() => (bar.hidden = true), 4000);
}

function clearNotice() {
  byId("notice").hidden = true;
}

// ---- views ---------------------------------------------------------------

function showView(name) {
  for (const section of document.querySelectorAll("main > .view")) {
    section.hidden = section.dataset.view !== name;
  }
  for (const a of byId("nav").querySelectorAll("a")) {
    const on = a.dataset.route === name;
    a.classList.toggle("on", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const prev = state.views[state.view];
  if (prev && state.view !== name) prev.hide();
  state.view = name;
  const next = state.views[name];
  if (next) {
    next.show();
    if (state.latest) next.status(state.latest);
  }
  document.title = "Kiln · " + name.charAt(0).toUpperCase() + name.slice(1);
}

function routeFromHash() {
  const name = location.hash.replace(/^#\/?/, "").split(/[/?]/)[0];
  return ROUTES.includes(name) ? name : DEFAULT_ROUTE;
}

function route() {
  if (!state.authed) return;
  const next = routeFromHash();
  if (next !== state.view) clearNotice(); // a message belongs to its page
  showView(next);
}

function setAuthed(authed) {
  state.authed = authed;
  document.body.classList.toggle("authed", authed);
  byId("nav").hidden = !authed;
  byId("logout").hidden = !authed;
}

// ---- the status stream ---------------------------------------------------

const stream = { source: null, stallTimer: 0, retryTimer: 0, pollTimer: 0, retryMs: RETRY_MIN_MS };

function setConn(kind, message) {
  const elc = byId("conn-status");
  elc.className = "conn conn-" + kind;
  text(elc, message);
}

// applyStatus hands one status snapshot to every view; hidden views only
// keep what they need (the chart keeps its live points).
function applyStatus(data) {
  if (!data || typeof data !== "object") return;
  const prev = state.latest || {};
  state.latest = {
    summary: data.summary || prev.summary || {},
    pools: data.pools || prev.pools || [],
    fans: data.fans || prev.fans || [],
    boards: data.boards || prev.boards || [],
  };
  const s = state.latest.summary;
  text(byId("board"), s.board || "–");
  text(byId("units"), formatCount(s.units) + (s.units === 1 ? " unit" : " units"));
  for (const [name, v] of Object.entries(state.views)) {
    if (name === state.view || v.always) v.status(state.latest);
  }
}

// pollOnce reads the same snapshot the stream sends, from the plain routes:
// at login (before the first event) and while the stream is down.
async function pollOnce() {
  try {
    const [summary, pools, boards, fans] = await Promise.all([
      api.get("/api/v1/summary"),
      api.get("/api/v1/pools"),
      api.get("/api/v1/boards"),
      api.get("/api/v1/fans").catch(() => []),
    ]);
    applyStatus({ summary, pools, boards, fans });
    return true;
  } catch (err) {
    if (state.authed) setConn("err", "offline: " + api.errorText(err));
    return false;
  }
}

function armStall() {
  clearTimeout(stream.stallTimer);
  stream.stallTimer = setTimeout(() => {
    setConn("wait", "reconnecting…");
    reopenStream();
  }, STALL_MS);
}

function startPolling() {
  if (stream.pollTimer) return;
  stream.pollTimer = setInterval(() => {
    if (state.authed) pollOnce();
  }, POLL_MS);
}

function stopPolling() {
  clearInterval(stream.pollTimer);
  stream.pollTimer = 0;
}

function openStream() {
  closeStream();
  const es = new EventSource("/api/v1/stream");
  stream.source = es;
  armStall();
  es.addEventListener("status", (ev) => {
    if (stream.source !== es) return;
    stream.retryMs = RETRY_MIN_MS;
    stopPolling();
    armStall();
    setConn("ok", "live");
    try {
      applyStatus(JSON.parse(ev.data));
    } catch (_) {
      // one bad event: keep the page as it is, the next one comes in 2 s
    }
  });
  es.addEventListener("error", () => {
    if (stream.source !== es) return;
    setConn("wait", "reconnecting…");
    startPolling();
    // The browser retries by itself after a network error; a refused
    // request (401, 5xx) closes the stream for good, so retry here.
    if (es.readyState === EventSource.CLOSED) scheduleReopen();
  });
}

function scheduleReopen() {
  clearTimeout(stream.retryTimer);
  stream.retryTimer = setTimeout(async () => {
    if (!state.authed) return;
    try {
      await api.get("/api/v1/session"); // a 401 here shows the login
      reopenStream();
    } catch (_) {
      if (state.authed) scheduleReopen();
    }
  }, stream.retryMs);
  stream.retryMs = Math.min(stream.retryMs * 2, RETRY_MAX_MS);
}

function reopenStream() {
  if (state.authed) openStream();
}

function closeStream() {
  if (stream.source) stream.source.close();
  stream.source = null;
  clearTimeout(stream.stallTimer);
  clearTimeout(stream.retryTimer);
  stopPolling();
}

// ---- login, setup, logout -------------------------------------------------

async function loadVersion() {
  try {
    const h = await api.get("/api/v1/health", { auth: false });
    text(byId("version"), h.version || "–");
  } catch (_) {
    // the connection badge tells the user already
  }
}

function showAuthView(name) {
  setAuthed(false);
  closeStream();
  for (const v of Object.values(state.views)) v.reset && v.reset();
  state.view = "";
  for (const section of document.querySelectorAll("main > .view")) {
    section.hidden = section.dataset.view !== name;
  }
  setConn("wait", name === "setup" ? "setup" : "logged out");
  document.title = "Kiln · " + (name === "setup" ? "Setup" : "Log in");
  const first = byId(name === "setup" ? "setup-password" : "login-password");
  first.value = "";
  if (name === "setup") byId("setup-password2").value = "";
  first.focus();
}

function loggedIn(csrfToken) {
  api.setCsrfToken(csrfToken);
  setAuthed(true);
  clearNotice();
  setConn("wait", "connecting…");
  pollOnce();
  openStream();
  route();
}

function formError(id, message) {
  text(byId(id), message);
}

async function submitSetup(ev) {
  ev.preventDefault();
  const p1 = byId("setup-password").value;
  const p2 = byId("setup-password2").value;
  if (p1.length < 8) return formError("setup-error", "The password needs at least 8 characters.");
  if (p1 !== p2) return formError("setup-error", "The two passwords differ.");
  formError("setup-error", "");
  const button = byId("setup-submit");
  button.disabled = true;
  try {
    const res = await api.post("/api/v1/setup", { password: p1 }, { auth: false });
    loggedIn(res && res.csrf_token);
  } catch (err) {
    if (err.code === "conflict") {
      showAuthView("login");
      formError("login-error", "The password was already set. Log in with it.");
    } else {
      formError("setup-error", api.errorText(err));
    }
  } finally {
    button.disabled = false;
  }
}

async function submitLogin(ev) {
  ev.preventDefault();
  const password = byId("login-password").value;
  if (!password) return formError("login-error", "Enter the password.");
  formError("login-error", "");
  const button = byId("login-submit");
  button.disabled = true;
  try {
    const res = await api.post("/api/v1/login", { username: "admin", password }, { auth: false });
    byId("login-password").value = "";
    loggedIn(res && res.csrf_token);
  } catch (err) {
    if (err.code === "setup_required") return showAuthView("setup");
    formError("login-error", err.status === 401 ? "Wrong password." : api.errorText(err));
    byId("login-password").select();
  } finally {
    button.disabled = false;
  }
}

async function logout() {
  try {
    await api.post("/api/v1/logout");
  } catch (err) {
    if (err.status !== 401) notify("Log out failed: " + api.errorText(err));
  }
  api.setCsrfToken("");
  showAuthView("login");
}

// boot decides what to show first: setup, login or the requested section.
async function boot() {
  loadVersion();
  try {
    const setup = await api.get("/api/v1/setup", { auth: false });
    if (setup && setup.required) return showAuthView("setup");
  } catch (err) {
    setConn("err", "offline");
    notify("Cannot reach the controller: " + api.errorText(err));
    setTimeout(boot, 5000);
    return;
  }
  try {
    const s = await api.get("/api/v1/session", { auth: false });
    loggedIn(s && s.csrf_token);
  } catch (err) {
    if (err.code === "setup_required") return showAuthView("setup");
    showAuthView("login");
    if (err.status !== 401) formError("login-error", api.errorText(err));
  }
}

function init() {
  const ctx = {
    notify,
    latest: () => state.latest,
    // loggedOut shows the login with a message (after a password change,
    // which ends every session).
    loggedOut(message) {
      api.setCsrfToken("");
      showAuthView("login");
      formError("login-error", message);
    },
  };
  state.views = {
    dashboard: createDashboard(ctx),
    pools: createPools(ctx),
    hardware: createHardware(ctx),
    tuning: createTuning(ctx),
    system: createSystem(ctx),
  };
  api.setHandlers(
    () => {
      if (state.authed) {
        showAuthView("login");
        formError("login-error", "Your session ended. Log in again.");
      }
    },
    () => showAuthView("setup"),
  );
  byId("setup-form").addEventListener("submit", submitSetup);
  byId("login-form").addEventListener("submit", submitLogin);
  byId("logout").addEventListener("click", logout);
  byId("notice-close").addEventListener("click", clearNotice);
  window.addEventListener("hashchange", route);
  setAuthed(false);
  boot();
}

init();

// Exposed for the browser console and the end-to-end test.
window.kiln = { state, notify };
