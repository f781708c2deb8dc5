// Autotune: start, stop and resume the search for each chip's best clock
// (for the most hashrate, the best efficiency or a power target), follow
// its progress and show what it found.

import * as api from "./api.js";
import { busy, el, emptyRow, labelCells, text } from "./dom.js";
import { formatHashrate, formatMHz, formatPercent, formatVolts } from "./format.js";
import { poller } from "./protection.js";

const byId = (id) => document.getElementById(id);

// AUTOTUNE_MS is how often the open tuning page re-reads the run's status.
const AUTOTUNE_MS = 2000;

// MODES name the goals as the page shows them.
const MODES = { max_hashrate: "Maximum hashrate", efficiency: "Best efficiency", power_target: "Power target" };
const BADGES = { idle: "standby", running: "connecting", stopped: "standby", done: "active", failed: "dead" };

// Bounds of the form, as the API checks them.
const MAX_POWER_W = 99999;
const MAX_BUDGET_PCT = 20;

const formatWatts = (w) => (typeof w === "number" && w > 0 ? w.toFixed(0) + " W" : "–");
const formatJPerTH = (j) => (typeof j === "number" && j > 0 ? j.toFixed(1) + " J/TH" : "–");

// resultPairs lists a result's totals as <dt>/<dd> pairs.
function resultPairs(r) {
  const pairs = [
    ["Goal", MODES[r.mode] || r.mode || "–", "mode"],
    ["Voltage", formatVolts(r.voltage_mv), "voltage"],
    ["Power", formatWatts(r.power_w), "power"],
    ["Hashrate", formatHashrate(r.hashrate_hs), "hashrate"],
    ["Efficiency", formatJPerTH(r.j_per_th), "efficiency"],
  ];
  return pairs.flatMap(([dt, dd, id]) => [el("dt", {}, dt), el("dd", { testid: "autotune-result-" + id }, dd)]);
}

function chipRow(c) {
  return el("tr", { testid: "autotune-chip" },
    el("td", { className: "num" }, String(c.chain)),
    el("td", { className: "num" }, String(c.chip)),
    el("td", { className: "num" }, formatMHz(c.frequency_mhz)));
}

// readForm checks the form and returns the request body, or an error.
function readForm() {
  const mode = byId("autotune-mode").value;
  const body = { mode };
  const pct = byId("autotune-budget").valueAsNumber;
  if (!isFinite(pct) || pct < 0 || pct > MAX_BUDGET_PCT) {
    return { error: "The HW error budget must be between 0 and " + MAX_BUDGET_PCT + " %." };
  }
  if (pct > 0) body.hw_error_budget = pct / 100;
  if (mode === "power_target") {
    const w = byId("autotune-power").valueAsNumber;
    if (!isFinite(w) || w < 1 || w > MAX_POWER_W) {
      return { error: "Enter the power target: between 1 and " + MAX_POWER_W + " W." };
    }
    body.power_w = w;
  }
  return { body };
}

// createAutotuneCard wires the autotune card of the tuning page; show
// starts following the run, hide stops.
export function createAutotuneCard() {
  let status = null;
  let resultKey = "";
  let touched = false; // the user picked a goal: keep it
  let supported = true;
  const errEl = byId("autotune-error");

  function showPowerField() {
    byId("autotune-power-field").hidden = byId("autotune-mode").value !== "power_target";
  }

  function renderResult(r) {
    const box = byId("autotune-result");
    const key = r ? JSON.stringify(r) : "";
    if (key === resultKey) return;
    resultKey = key;
    box.hidden = !r;
    if (!r) return;
    byId("autotune-totals").replaceChildren(...resultPairs(r));
    const chips = (r.chips || []).slice().sort((a, b) => a.chain - b.chain || a.chip - b.chip);
    const tbody = byId("autotune-chips");
    tbody.replaceChildren(...(chips.length ? chips.map(chipRow) : [emptyRow(3, "No chip clocks in the result.")]));
    labelCells(tbody);
  }

  function render(s) {
    byId("autotune-body").hidden = false;
    byId("autotune-unavailable").hidden = true;
    status = s || { state: "idle", progress: 0 };
    const st = status.state || "idle";
    const state = byId("autotune-state");
    state.className = "badge st-" + (BADGES[st] || "standby");
    text(state, st + (status.mode && st !== "idle" ? " · " + (MODES[status.mode] || status.mode) : ""));
    state.dataset.state = st;
    const p = Math.min(1, Math.max(0, Number(status.progress) || 0));
    byId("autotune-progress").value = p;
    text(byId("autotune-percent"), formatPercent(100 * p));
    text(byId("autotune-message"), status.message || (st === "idle" ? "Not run yet." : ""));
    const running = st === "running";
    byId("autotune-start").disabled = running;
    byId("autotune-stop").disabled = !running;
    byId("autotune-resume").disabled = st !== "stopped";
    if (!touched && status.mode && MODES[status.mode]) {
      byId("autotune-mode").value = status.mode;
      showPowerField();
    }
    renderResult(status.result);
  }

  function unsupported(err) {
    supported = false;
    byId("autotune-body").hidden = true;
    const note = byId("autotune-unavailable");
    text(note, "Autotuning is not available: " + api.errorText(err) + ".");
    note.hidden = false;
    const state = byId("autotune-state");
    state.className = "badge st-disabled";
    text(state, "unavailable");
    state.dataset.state = "unavailable";
  }

  let loadFailed = false; // the error line shows a failed read
  async function load() {
    if (!supported) return;
    try {
      render(await api.get("/api/v1/autotune"));
      if (loadFailed) text(errEl, "");
      loadFailed = false;
    } catch (err) {
      if (err.status === 404) return unsupported(err);
      if (err.status === 401) return;
      loadFailed = true;
      text(errEl, "Autotune status unavailable: " + api.errorText(err));
    }
  }

  // send makes one change and shows the status it answers. A run starts
  // in the background: until the next read shows it, only Stop is offered.
  async function send(button, promise, starting) {
    text(errEl, "");
    try {
      const s = await busy(button, promise);
      render(s);
      if (starting && s && s.state !== "running") {
        byId("autotune-start").disabled = true;
        byId("autotune-resume").disabled = true;
        byId("autotune-stop").disabled = false;
        text(byId("autotune-message"), "Starting…");
      }
    } catch (err) {
      if (err.status === 404) unsupported(err);
      else text(errEl, api.errorText(err));
    }
  }

  function start(ev) {
    ev.preventDefault();
    const { body, error } = readForm();
    text(errEl, error || "");
    if (error) return;
    if (!window.confirm("Start autotuning (" + MODES[body.mode] + ")? The chips are re-clocked one by one; " +
      "the hashrate dips while the run measures them.")) return;
    send(byId("autotune-start"), api.post("/api/v1/autotune", body), true);
  }

  function resume() {
    const { body, error } = readForm();
    text(errEl, error || "");
    if (error) return;
    if (status && status.mode) body.mode = status.mode;
    body.resume = true;
    send(byId("autotune-resume"), api.post("/api/v1/autotune", body), true);
  }

  byId("autotune-form").addEventListener("submit", start);
  byId("autotune-stop").addEventListener("click", () => send(byId("autotune-stop"), api.del("/api/v1/autotune")));
  byId("autotune-resume").addEventListener("click", resume);
  byId("autotune-mode").addEventListener("change", () => {
    touched = true;
    showPowerField();
  });
  byId("autotune-budget").max = String(MAX_BUDGET_PCT);
  byId("autotune-power").max = String(MAX_POWER_W);
  showPowerField();

  const poll = poller(load, AUTOTUNE_MS);
  return {
    show() {
      // A board that could not be autotuned may have been swapped since.
      supported = true;
      text(errEl, "");
      poll.start();
    },
    hide: poll.stop,
  };
}
