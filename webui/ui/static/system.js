// System: version and uptime, restart and reboot, fault injection on the
// simulated board, the event and share logs (paged), configuration export
// and import, API tokens and the admin password.

import * as api from "./api.js";
import { badge, busy, el, emptyRow, labelCells, text } from "./dom.js";
import { formatDifficulty, formatDuration, formatTime } from "./format.js";
import { createFirmware } from "./firmware.js";
import { createSimulation } from "./simulation.js";

const byId = (id) => document.getElementById(id);

// pageSize: fewer log entries per page on a phone, where each is a block.
const pageSize = () => (window.matchMedia("(max-width: 640px)").matches ? 20 : 50);
const LEVELS = { info: "standby", warn: "connecting", error: "dead" };
const RESULTS = { accepted: "active", rejected: "dead", stale: "connecting" };

// pagedLog is one log table with "Newest" and "Older" buttons over a route
// that answers {<key>: [...], next_before: ID|null}.
function pagedLog(name, title, columns, rowOf) {
  const body = byId(name + "-body");
  const older = byId(name + "-older");
  let before = null;

  async function load(more) {
    const q = "?limit=" + pageSize() + (more && before !== null ? "&before=" + encodeURIComponent(before) : "");
    try {
      const res = await busy(more ? older : byId(name + "-refresh"), api.get("/api/v1/" + name + q));
      const items = (res && res[name]) || [];
      const rows = items.map(rowOf);
      if (more) body.append(...rows);
      else body.replaceChildren(...(rows.length ? rows : [emptyRow(columns, "Nothing yet.")]));
      labelCells(body);
      before = res && res.next_before != null ? res.next_before : null;
      older.hidden = before === null;
    } catch (err) {
      if (err.status === 401) return;
      const row = emptyRow(columns, title + " unavailable: " + api.errorText(err));
      row.cells[0].classList.add("bad");
      if (more) body.append(row);
      else body.replaceChildren(row);
    }
  }

  older.addEventListener("click", () => load(true));
  byId(name + "-refresh").addEventListener("click", () => load(false));
  return () => load(false);
}

function eventRow(e) {
  return el("tr", { testid: "event-row" },
    el("td", { className: "nowrap" }, formatTime(e.time)),
    el("td", {}, badge(e.level || "info", LEVELS[e.level] || "standby")),
    el("td", { className: "source", testid: "event-source" }, e.source || ""),
    el("td", {}, e.kind || ""),
    el("td", { className: "wrap" }, e.message || ""));
}

function shareRow(s) {
  const result = el("td", {}, badge(s.result || "–", RESULTS[s.result] || "standby"));
  if (s.reason) result.append(" ", s.reason);
  return el("tr", { testid: "share-row" },
    el("td", { className: "nowrap" }, formatTime(s.time)),
    el("td", { className: "url" }, s.pool || ""),
    el("td", { className: "url" }, s.job || ""),
    el("td", { className: "num" }, formatDifficulty(s.difficulty)),
    el("td", { className: "num" }, formatDifficulty(s.share_difficulty)),
    result);
}

// download saves text as a file through a temporary link.
function download(name, content) {
  const url = URL.createObjectURL(new Blob([content], { type: "application/json" }));
  const a = el("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// createSystem wires the system section.
export function createSystem(ctx) {
  let info = null;
  let infoAt = 0;
  let shownToken = null; // id of the token whose secret is on screen
  const loadEvents = pagedLog("events", "Event log", 5, eventRow);
  const simulation = createSimulation(() => loadEvents());
  const firmware = createFirmware();
  const loadShares = pagedLog("shares", "Share log", 6, shareRow);

  function renderInfo() {
    if (!info) return;
    text(byId("sys-version"), info.version || "–");
    text(byId("sys-uptime"), formatDuration(info.uptime_s + (Date.now() - infoAt) / 1000));
    text(byId("sys-started"), formatTime(info.started));
    text(byId("sys-board"), info.board || "–");
    text(byId("sys-hostname"), info.hostname || "–");
    text(byId("sys-platform"), (info.os || "?") + "/" + (info.arch || "?"));
    text(byId("sys-go"), info.go_version || "–");
    byId("reboot").disabled = !info.can_reboot;
    text(byId("reboot-note"), info.can_reboot
      ? "Reboots the whole machine; mining stops for about a minute."
      : "Reboot is not available: this controller does not own the machine it runs on (a development host, not a firmware image).");
  }

  async function loadInfo() {
    try {
      info = await api.get("/api/v1/system");
      infoAt = Date.now();
      renderInfo();
    } catch (err) {
      if (err.status !== 401) ctx.notify("System: " + api.errorText(err));
    }
  }

  async function control(button, path, question, done) {
    if (!window.confirm(question)) return;
    const out = byId("system-status");
    try {
      await busy(button, api.post(path));
      out.className = "good";
      text(out, done);
    } catch (err) {
      out.className = "bad";
      text(out, api.errorText(err));
    }
  }

  async function exportConfig() {
    const out = byId("config-status");
    try {
      const cfg = await busy(byId("config-export"), api.get("/api/v1/config"));
      const host = (info && info.hostname) || "kiln";
      const day = new Date().toISOString().slice(0, 10);
      download("kiln-config-" + host + "-" + day + ".json", JSON.stringify(cfg, null, 2) + "\n");
      out.className = "good";
      text(out, "Exported. The file holds the pool passwords: keep it safe.");
    } catch (err) {
      out.className = "bad";
      text(out, "Export failed: " + api.errorText(err));
    }
  }

  async function importConfig() {
    const out = byId("config-status");
    const file = byId("config-file").files[0];
    out.className = "bad";
    if (!file) return text(out, "Choose a file first.");
    let doc;
    try {
      doc = JSON.parse(await file.text());
    } catch (err) {
      return text(out, "That file is not JSON: " + err.message);
    }
    if (!window.confirm("Replace the pools, fan and board settings with " + file.name + "?")) return;
    try {
      await busy(byId("config-import"), api.put("/api/v1/config", doc));
      out.className = "good";
      text(out, "Imported and applied.");
      byId("config-file").value = "";
    } catch (err) {
      text(out, "Import failed, nothing changed: " + api.errorText(err));
    }
  }

  async function loadTokens() {
    const body = byId("tokens-body");
    try {
      const list = (await api.get("/api/v1/tokens")) || [];
      body.replaceChildren(...(list.length ? list.map((t) => el("tr", { testid: "token-row" },
        el("td", {}, t.name || ""),
        el("td", { className: "nowrap" }, formatTime(t.created)),
        el("td", { className: "nowrap" }, t.last_used ? formatTime(t.last_used) : "never"),
        el("td", {}, el("button", {
          type: "button", className: "btn btn-small btn-danger", dataset: { token: String(t.id), name: t.name || "" },
          testid: "token-revoke",
        }, "Revoke")))) : [emptyRow(4, "No tokens.")]));
      labelCells(body);
    } catch (err) {
      if (err.status === 401) return;
      const row = emptyRow(4, "Tokens unavailable: " + api.errorText(err));
      row.cells[0].classList.add("bad");
      body.replaceChildren(row);
    }
  }

  async function createToken(ev) {
    ev.preventDefault();
    const name = byId("token-name").value.trim();
    if (!name) return text(byId("token-error"), "Give the token a name.");
    text(byId("token-error"), "");
    try {
      const t = await busy(byId("token-create"), api.post("/api/v1/tokens", { name }));
      shownToken = t && t.id;
      byId("token-value").value = (t && t.token) || "";
      byId("token-new").hidden = false;
      byId("token-value").select();
      byId("token-name").value = "";
      loadTokens();
    } catch (err) {
      text(byId("token-error"), api.errorText(err));
    }
  }

  async function revokeToken(button) {
    if (!window.confirm("Revoke the token \u201c" + button.dataset.name + "\u201d? Tools using it stop working.")) return;
    try {
      await busy(button, api.del("/api/v1/tokens/" + encodeURIComponent(button.dataset.token)));
      if (String(shownToken) === button.dataset.token) hideToken();
      loadTokens();
    } catch (err) {
      text(byId("token-error"), api.errorText(err));
    }
  }

  function hideToken() {
    shownToken = null;
    byId("token-new").hidden = true;
    byId("token-value").value = "";
  }

  async function changePassword(ev) {
    ev.preventDefault();
    const current = byId("password-current").value;
    const next = byId("password-new").value;
    const out = byId("password-error");
    text(byId("password-saved"), "");
    if (!current) return text(out, "Enter the current password.");
    if (next.length < 8) return text(out, "The new password needs at least 8 characters.");
    if (next !== byId("password-new2").value) return text(out, "The two new passwords differ.");
    text(out, "");
    try {
      await busy(byId("password-save"), api.put("/api/v1/password", { current, new: next }));
      for (const id of ["password-current", "password-new", "password-new2"]) byId(id).value = "";
      // A new password ends every session, this one included.
      ctx.loggedOut("Password changed. Log in with the new password.");
    } catch (err) {
      text(out, err.status === 401 ? "The current password is wrong." : api.errorText(err));
    }
  }

  byId("restart-mining").addEventListener("click", (ev) => control(ev.currentTarget, "/api/v1/system/restart",
    "Restart mining? Hashing stops for a few seconds.", "Mining is restarting."));
  byId("reboot").addEventListener("click", (ev) => control(ev.currentTarget, "/api/v1/system/reboot",
    "Reboot the machine now?", "Rebooting: this page reconnects when the controller is back."));
  byId("config-export").addEventListener("click", exportConfig);
  byId("config-import").addEventListener("click", importConfig);
  byId("token-form").addEventListener("submit", createToken);
  byId("tokens-body").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-token]");
    if (b) revokeToken(b);
  });
  byId("password-form").addEventListener("submit", changePassword);

  return {
    show() {
      hideToken();
      loadInfo();
      firmware.show();
      simulation.show(ctx.latest());
      loadEvents();
      loadShares();
      loadTokens();
    },
    hide: hideToken,
    reset() {
      info = null;
      hideToken();
    },
    status(data) {
      renderInfo();
      simulation.status(data);
    },
  };
}
