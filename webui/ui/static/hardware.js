// Hardware: the chains and chips tables (with each chip's clock settable
// within its board's limits) and a heat map of the chips, coloured by
// temperature or by hash rate.

import * as api from "./api.js";
import { badge, busy, el, emptyRow, syncRows, text } from "./dom.js";
import {
  formatAgo, formatCount, formatHashrate, formatMHz, formatTemp, formatVolts,
} from "./format.js";

const byId = (id) => document.getElementById(id);

// Temperature colour scale: blue at COOL_C, red at HOT_C and above.
const COOL_C = 35;
const HOT_C = 90;

function chainCells(b, ch) {
  return [
    el("td", { className: "num" }, String(b.index)),
    el("td", { className: "num" }, String(ch.index)),
    el("td", { className: "url" }, ch.serial || "–"),
    el("td", {}, badge(ch.state || "–", ch.state === "mining" ? "active" : ch.last_error ? "dead" : "standby")),
    el("td", { className: "num" }, formatMHz(ch.frequency_mhz)),
    el("td", { className: "num" }, formatVolts(ch.voltage_mv)),
    el("td", { className: "num" }, formatTemp(ch.temperature_c)),
    el("td", { className: "num" }, formatHashrate(ch.hashrate_hs)),
    el("td", { className: "num" }, formatCount(ch.hw_errors)),
    el("td", { className: "num" }, formatCount(ch.crc_errors)),
    el("td", { className: "num" }, formatCount(ch.stale_nonces)),
    el("td", { className: "num" }, formatCount(ch.reinits)),
    el("td", { className: "error" }, ch.last_error || ""),
  ];
}

// clockCell is a chip's "set clock" form. It is created once per row and
// left alone by the two-second refresh (data-keep), so typing survives.
function clockCell(b, ch, c, limits) {
  const L = limits[b.index] || {};
  const key = b.index + "-" + ch.index + "-" + c.index;
  const input = el("input", {
    type: "number", className: "chip-clock", step: "1", required: true,
    value: c.frequency_mhz > 0 ? String(Math.round(c.frequency_mhz)) : "",
    min: L.frequency_min_mhz, max: L.frequency_max_mhz,
    dataset: { board: String(b.index) }, testid: "chip-clock-" + key,
    "aria-label": "Clock of chain " + ch.index + " chip " + c.index + " in MHz",
  });
  const form = el("form", {
    className: "chip-clock-form", noValidate: true,
    dataset: { board: String(b.index), chain: String(ch.index), chip: String(c.index) },
  }, input, el("button", { type: "submit", className: "btn btn-small", testid: "chip-clock-set-" + key }, "Set"));
  return el("td", { dataset: { keep: "" } }, form);
}

function chipCells(b, ch, c, limits) {
  const rate = c.nonces + c.hw_errors > 0 ? (100 * c.hw_error_rate).toFixed(2) + " %" : "–";
  return [
    el("td", { className: "num" }, String(ch.index)),
    el("td", { className: "num" }, String(c.index)),
    el("td", { className: "url" }, "0x" + Number(c.address).toString(16).padStart(2, "0")),
    el("td", {}, badge(c.responding ? ch.state || "ok" : "not answering", c.responding ? "active" : "dead")),
    el("td", { className: "num" }, formatMHz(c.frequency_mhz)),
    el("td", { className: "num" }, formatVolts(c.voltage_mv)),
    el("td", { className: "num" }, formatTemp(c.temperature_c)),
    el("td", { className: "num" }, formatHashrate(c.hashrate_hs)),
    el("td", { className: "num" }, formatCount(c.nonces)),
    el("td", { className: "num" }, formatCount(c.hw_errors) + " (" + rate + ")"),
    formatAgo(c.last_nonce),
    clockCell(b, ch, c, limits),
  ];
}

// flatten lists the chains and chips of every board with their parents.
function flatten(boards) {
  const chains = [];
  const chips = [];
  for (const b of boards || []) {
    for (const ch of b.chains || []) {
      chains.push({ b, ch });
      for (const c of ch.chips || []) chips.push({ b, ch, c });
    }
  }
  return { chains, chips };
}

// chipTemp is the chip's own temperature, else its chain's sensor.
function chipTemp(ch, c) {
  return c.temperature_c > 0 ? c.temperature_c : ch.temperature_c > 0 ? ch.temperature_c : 0;
}

// colour maps x in [0, 1] to a hue from blue/red (0) to red/green (1).
function colour(x, metric) {
  const t = Math.min(1, Math.max(0, x));
  const hue = metric === "temperature" ? 220 - 220 * t : 120 * t;
  return "hsl(" + hue.toFixed(0) + ", 70%, 48%)";
}

// patchHeatmap shows rows in map. When the chips are the same as last time
// only colours and titles change, so a tooltip being read stays open.
function patchHeatmap(map, rows, shape) {
  if (map.dataset.shape !== shape) {
    map.dataset.shape = shape;
    map.replaceChildren(...rows);
    return;
  }
  const cur = map.querySelectorAll(".chip");
  const next = rows.flatMap((r) => Array.from(r.querySelectorAll(".chip")));
  next.forEach((n, i) => {
    const c = cur[i];
    if (!c) return;
    if (c.className !== n.className) c.className = n.className;
    if (c.title !== n.title) c.title = n.title;
    if (c.style.backgroundColor !== n.style.backgroundColor) c.style.backgroundColor = n.style.backgroundColor;
  });
}

// createHardware wires the hardware section.
export function createHardware(ctx) {
  let metric = "temperature";
  let boards = [];
  let limits = {}; // board index -> frequency limits from GET /api/v1/tuning

  // loadLimits reads the boards' clock limits and puts them on the inputs
  // already shown.
  async function loadLimits() {
    try {
      const t = await api.get("/api/v1/tuning");
      limits = {};
      for (const b of (t && t.boards) || []) limits[b.index] = b.limits || {};
    } catch (_) {
      return; // the server checks the limits too
    }
    for (const input of byId("chips-body").querySelectorAll("input.chip-clock")) {
      const L = limits[input.dataset.board] || {};
      input.min = L.frequency_min_mhz ?? "";
      input.max = L.frequency_max_mhz ?? "";
    }
  }

  async function setClock(form) {
    const out = byId("chips-status");
    const input = form.querySelector("input");
    const { board, chain, chip } = form.dataset;
    const name = "Chain " + chain + " chip " + chip;
    const mhz = input.valueAsNumber;
    const min = parseFloat(input.min);
    const max = parseFloat(input.max);
    out.className = "bad";
    if (!isFinite(mhz)) return text(out, name + ": enter a clock in MHz.");
    if ((isFinite(min) && mhz < min) || (isFinite(max) && mhz > max)) {
      return text(out, name + ": the clock must be between " + min + " and " + max + " MHz.");
    }
    text(out, "");
    try {
      await busy(form.querySelector("button"), api.put("/api/v1/tuning/chips",
        { board: Number(board), chain: Number(chain), chip: Number(chip), frequency_mhz: mhz }));
      out.className = "good";
      text(out, name + " set to " + formatMHz(mhz) + ".");
    } catch (err) {
      out.className = "bad";
      text(out, name + ": " + api.errorText(err));
    }
  }

  function renderHeatmap() {
    const map = byId("heatmap");
    const { chains, chips } = flatten(boards);
    let maxRate = 0;
    for (const { c } of chips) if (c.hashrate_hs > maxRate) maxRate = c.hashrate_hs;
    const rows = chains.map(({ b, ch }) => {
      const label = (boards.length > 1 ? "B" + b.index + " " : "") + "Chain " + ch.index;
      const cells = (ch.chips || []).map((c) => {
        const temp = chipTemp(ch, c);
        const x = metric === "temperature" ? (temp - COOL_C) / (HOT_C - COOL_C) : maxRate > 0 ? c.hashrate_hs / maxRate : 0;
        const known = c.responding && (metric === "temperature" ? temp > 0 : true);
        const cellEl = el("span", {
          className: "chip" + (known ? "" : " chip-off"),
          title: "Chain " + ch.index + " chip " + c.index + ": " + formatTemp(temp) +
            (c.temperature_c > 0 ? "" : " (chain sensor)") + ", " + formatHashrate(c.hashrate_hs) +
            (c.responding ? "" : ", not answering"),
          testid: "heat-" + b.index + "-" + ch.index + "-" + c.index,
        }, String(c.index));
        if (known) cellEl.style.backgroundColor = colour(x, metric);
        return cellEl;
      });
      return el("div", { className: "heat-row" }, el("span", { className: "heat-label" }, label),
        el("div", { className: "heat-cells" }, cells));
    });
    if (rows.length === 0) rows.push(el("p", { className: "muted" }, "No chips: hashing on the CPU."));
    patchHeatmap(map, rows, chains.map(({ b, ch }) => b.index + "." + ch.index + ":" + (ch.chips || []).length).join(","));
    byId("heatmap-bar").className = "scale-bar scale-" + metric;
    text(byId("heatmap-min"), metric === "temperature" ? COOL_C + " °C" : "0");
    text(byId("heatmap-max"), metric === "temperature" ? HOT_C + " °C" : formatHashrate(maxRate));
  }

  function render(list) {
    if (!Array.isArray(list)) return;
    boards = list;
    const { chains, chips } = flatten(list);
    const chainsBody = byId("chains-body");
    const chipsBody = byId("chips-body");
    if (chains.length === 0) chainsBody.replaceChildren(emptyRow(13, "No chains: hashing on the CPU."));
    else syncRows(chainsBody, chains, ({ b, ch }) => b.index + "-" + ch.index, ({ b, ch }) => chainCells(b, ch));
    if (chips.length === 0) chipsBody.replaceChildren(emptyRow(12, "No chips: hashing on the CPU."));
    else syncRows(chipsBody, chips, ({ b, ch, c }) => b.index + "-" + ch.index + "-" + c.index, ({ b, ch, c }) => chipCells(b, ch, c, limits));
    renderHeatmap();
  }

  byId("heatmap-metric").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-metric]");
    if (!b) return;
    metric = b.dataset.metric;
    for (const x of byId("heatmap-metric").querySelectorAll("button")) {
      x.classList.toggle("on", x === b);
      x.setAttribute("aria-pressed", String(x === b));
    }
    renderHeatmap();
  });

  byId("chips-body").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setClock(ev.target);
  });

  return {
    async show() {
      text(byId("chips-status"), "");
      loadLimits();
      try {
        render(await api.get("/api/v1/boards"));
      } catch (err) {
        if (err.status !== 401) ctx.notify("Boards: " + api.errorText(err));
      }
    },
    hide() {},
    status(data) {
      render(data.boards);
    },
  };
}
