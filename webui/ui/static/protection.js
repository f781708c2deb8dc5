// Chain protection: what GET /api/v1/protection says about each chain
// (ok, throttled, stopped, locked), shown as a table on the tuning page and
// as a banner on the dashboard. Also the poller both use, since the live
// stream does not carry the protection state.

import * as api from "./api.js";
import { badge, busy, el, emptyRow, syncRows, text } from "./dom.js";
import { formatCount, formatPercent } from "./format.js";

const byId = (id) => document.getElementById(id);

// PROTECTION_MS is how often an open page re-reads the protection state.
export const PROTECTION_MS = 2000;

// BADGES maps a protection state to a badge colour class.
const BADGES = { ok: "active", throttled: "connecting", stopped: "dead", locked: "dead" };

// poller calls fn every ms while started, never two calls at once: the
// next call is planned when the previous one has finished.
export function poller(fn, ms) {
  let timer = 0;
  let gen = 0;
  let on = false;
  async function tick(g) {
    try {
      await fn();
    } catch (_) {
      // fn reports its own errors; keep polling
    }
    if (on && g === gen) timer = setTimeout(() => tick(g), ms);
  }
  return {
    start() {
      if (on) return;
      on = true;
      tick(++gen);
    },
    stop() {
      on = false;
      gen++;
      clearTimeout(timer);
    },
  };
}

// chainName is "Chain 2", or "Board 1 chain 2" when there are many boards.
function chainName(p, many) {
  return (many ? "Board " + p.board + " chain " : "Chain ") + p.chain;
}

const manyBoards = (list) => new Set(list.map((p) => p.board)).size > 1;

// describe is one line about a chain that is not ok, e.g.
// "Chain 0 stopped: fan stalled (fans [0])".
export function describe(p, many) {
  let s = chainName(p, many) + " " + p.state;
  if (p.state === "throttled") s += " to " + formatPercent(100 * p.throttle) + " clock";
  if (p.reason) s += ": " + p.reason;
  if (p.state === "locked") s += ". Reset it on the Tuning page once the cause is fixed.";
  return s;
}

// renderBanner shows the chains that are not ok in the dashboard banner,
// or hides it when every chain is ok.
export function renderBanner(list) {
  const banner = byId("protection-banner");
  const bad = (Array.isArray(list) ? list : []).filter((p) => p.state !== "ok");
  if (bad.length === 0) {
    banner.hidden = true;
    return;
  }
  const many = manyBoards(list);
  const severe = bad.some((p) => p.state === "stopped" || p.state === "locked");
  banner.className = "banner " + (severe ? "banner-bad" : "banner-warn");
  const items = bad.map((p) => el("li", { testid: "protection-banner-" + p.board + "-" + p.chain }, describe(p, many)));
  const list2 = byId("protection-banner-list");
  const next = items.map((i) => i.textContent).join("\u0000");
  if (Array.from(list2.children, (i) => i.textContent).join("\u0000") !== next) list2.replaceChildren(...items);
  banner.hidden = false;
}

function protectionCells(p, many) {
  const key = p.board + "-" + p.chain;
  const reset = p.state === "locked"
    ? el("button", {
      type: "button", className: "btn btn-small btn-danger", dataset: { chain: String(p.chain) },
      testid: "protection-reset-" + key,
    }, "Reset")
    : "";
  return [
    el("td", {}, chainName(p, many)),
    el("td", {}, el("span", { className: "badge st-" + (BADGES[p.state] || "standby"), testid: "protection-state-" + key }, p.state || "–")),
    el("td", { className: "wrap" }, p.reason || (p.state === "ok" ? "" : "–")),
    el("td", { className: "num", title: "Clock factor in force" }, p.state === "stopped" || p.state === "locked" ? "–" : formatPercent(100 * p.throttle)),
    el("td", { className: "num", title: "Automatic restarts in the current window" }, formatCount(p.restarts)),
    el("td", {}, reset),
  ];
}

// createProtectionCard wires the protection card of the tuning page; show
// starts polling, hide stops it.
export function createProtectionCard() {
  const body = byId("protection-body");
  const out = byId("protection-status");

  function render(list) {
    if (!Array.isArray(list)) return;
    if (list.length === 0) {
      body.replaceChildren(emptyRow(6, "No chains are watched: this board reports no protection state."));
      return;
    }
    const many = manyBoards(list);
    syncRows(body, list, (p) => p.board + "-" + p.chain, (p) => protectionCells(p, many),
      (p) => (p.state === "ok" ? "" : "row-" + p.state));
  }

  let failed = false; // the status line shows a failed read
  async function load() {
    try {
      render(await api.get("/api/v1/protection"));
      if (failed) text(out, "");
      failed = false;
    } catch (err) {
      if (err.status === 401) return;
      failed = true;
      out.className = "bad";
      text(out, "Protection state unavailable: " + api.errorText(err));
    }
  }

  async function reset(button) {
    const chain = button.dataset.chain;
    if (!window.confirm("Let chain " + chain + " start again? Do it only once the cause is fixed.")) return;
    try {
      render(await busy(button, api.post("/api/v1/protection/reset/" + encodeURIComponent(chain))));
      failed = false;
      out.className = "good";
      text(out, "Chain " + chain + " unlocked; it restarts when the cause has cleared.");
    } catch (err) {
      out.className = "bad";
      text(out, "Reset of chain " + chain + " failed: " + api.errorText(err));
    }
  }

  body.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-chain]");
    if (b) reset(b);
  });

  const poll = poller(load, PROTECTION_MS);
  return {
    show() {
      text(out, "");
      poll.start();
    },
    hide: poll.stop,
  };
}
