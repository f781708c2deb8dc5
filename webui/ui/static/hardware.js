// Hardware: the chains and chips tables and a heat map of the chips,
// coloured by temperature or by hash rate.

import * as api from "./api.js";
import { badge, el, emptyRow, syncRows, text } from "./dom.js";
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

function chipCells(ch, c) {
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
    if (chips.length === 0) chipsBody.replaceChildren(emptyRow(11, "No chips: hashing on the CPU."));
    else syncRows(chipsBody, chips, ({ b, ch, c }) => b.index + "-" + ch.index + "-" + c.index, ({ ch, c }) => chipCells(ch, c));
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

  return {
    async show() {
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
