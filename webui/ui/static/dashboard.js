// Dashboard: a banner when a chain is throttled or stopped, the headline
// numbers, the hashrate chart (history plus live averages) and the
// temperatures and fans.

import * as api from "./api.js";
import { HashChart } from "./chart.js";
import { el, text } from "./dom.js";
import {
  formatAgo, formatCount, formatDifficulty, formatDuration, formatHashrate, formatPercent, formatTemp,
} from "./format.js";
import { PROTECTION_MS, poller, renderBanner } from "./protection.js";

const byId = (id) => document.getElementById(id);

// RANGES are the chart's spans in seconds. "10m" is mostly the live lines;
// its stored history comes from the 1 h range.
const RANGES = { "10m": 600, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400 };
const historyRange = (name) => (name === "10m" ? "1h" : name);
// HISTORY_REFRESH_MS re-reads the stored history while the dashboard is
// open, so the long line grows as the live one does.
const HISTORY_REFRESH_MS = 60000;

function renderSummary(s) {
  text(byId("hashrate"), formatHashrate(s.hashrate_hs));
  text(byId("hashrate-5s"), formatHashrate(s.hashrate_5s_hs));
  text(byId("hashrate-15m"), formatHashrate(s.hashrate_15m_hs));
  text(byId("accepted"), formatCount(s.accepted));
  text(byId("rejected"), formatCount(s.rejected));
  text(byId("stale"), formatCount(s.stale));
  text(byId("hw-errors"), formatCount(s.hw_errors));
  text(byId("last-share"), formatAgo(s.last_share));
  text(byId("active-pool"), s.active_pool || "none");
  text(byId("difficulty"), formatDifficulty(s.difficulty));
  text(byId("best-share"), formatDifficulty(s.best_share));
  text(byId("uptime"), formatDuration(s.uptime_s));
  byId("rejected").classList.toggle("bad", s.rejected > 0);
  byId("hw-errors").classList.toggle("bad", s.hw_errors > 0);
  // The raw number, for scripts and the end-to-end test.
  byId("hashrate").dataset.value = String(s.hashrate_hs ?? "");
}

// tempRows lists every chain's temperature, named by board and chain.
function tempRows(boards) {
  const rows = [];
  const many = boards.length > 1;
  for (const b of boards) {
    for (const ch of b.chains || []) {
      const name = (many ? "Board " + b.index + " chain " : "Chain ") + ch.index;
      const dd = el("dd", { testid: "temp-" + b.index + "-" + ch.index }, formatTemp(ch.temperature_c));
      dd.classList.toggle("bad", ch.temperature_c >= 85);
      rows.push(el("dt", {}, name), dd);
    }
  }
  if (rows.length === 0) rows.push(el("dt", {}, "Sensors"), el("dd", { className: "muted" }, "none"));
  return rows;
}

// fanRows lists each fan's speed and commanded duty cycle.
function fanRows(fans) {
  const rows = [];
  for (const f of fans) {
    const dd = el("dd", { testid: "fan-" + f.index },
      el("span", { testid: "fan-" + f.index + "-rpm" }, formatCount(f.rpm) + " rpm"),
      " · ",
      el("span", { testid: "fan-" + f.index + "-percent", dataset: { value: String(f.percent) } }, formatPercent(f.percent)));
    rows.push(el("dt", {}, "Fan " + f.index), dd);
  }
  if (rows.length === 0) rows.push(el("dt", {}, "Fans"), el("dd", { className: "muted" }, "none"));
  return rows;
}

// replaceIfChanged swaps a list's children only when their text differs.
function replaceIfChanged(parent, nodes) {
  const next = nodes.map((n) => n.textContent).join("\u0000");
  const cur = Array.from(parent.children, (n) => n.textContent).join("\u0000");
  if (next !== cur) parent.replaceChildren(...nodes);
}

// createDashboard wires the dashboard section. The chart keeps taking
// live points while another section is shown (always: true).
export function createDashboard() {
  const chart = new HashChart(byId("hashrate-chart"));
  let range = "1h";
  let visible = false;
  let timer = 0;
  let loadSeq = 0;
  let lastSummary = null;
  const protection = poller(async () => {
    try {
      renderBanner(await api.get("/api/v1/protection"));
    } catch (_) {
      // the connection badge tells the user; keep the banner as it was
    }
  }, PROTECTION_MS);

  async function loadHistory() {
    const seq = ++loadSeq;
    try {
      const h = await api.get("/api/v1/history?range=" + encodeURIComponent(historyRange(range)));
      if (seq !== loadSeq) return; // a newer range was picked meanwhile
      chart.setHistory(h && h.samples, h && h.step_s);
      text(byId("history-error"), "");
    } catch (err) {
      if (seq === loadSeq) text(byId("history-error"), "History unavailable: " + api.errorText(err));
    }
  }

  function pick(name) {
    if (!(name in RANGES)) return;
    range = name;
    for (const b of byId("history-range").querySelectorAll("button")) {
      b.classList.toggle("on", b.dataset.range === name);
      b.setAttribute("aria-pressed", String(b.dataset.range === name));
    }
    chart.setRange(RANGES[name]);
    loadHistory();
  }

  byId("history-range").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-range]");
    if (b) pick(b.dataset.range);
  });

  return {
    always: true,
    show() {
      visible = true;
      chart.setRange(RANGES[range]);
      loadHistory();
      clearInterval(timer);
      timer = setInterval(loadHistory, HISTORY_REFRESH_MS);
      protection.start();
    },
    hide() {
      visible = false;
      clearInterval(timer);
      protection.stop();
    },
    reset() {
      visible = false;
      clearInterval(timer);
      protection.stop();
      renderBanner([]);
    },
    status(data) {
      if (data.summary !== lastSummary) chart.addLive(Date.now(), data.summary);
      lastSummary = data.summary;
      if (!visible) return;
      renderSummary(data.summary);
      replaceIfChanged(byId("temps"), tempRows(data.boards));
      replaceIfChanged(byId("fans"), fanRows(data.fans));
    },
  };
}
