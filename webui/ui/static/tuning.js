// Tuning: the chains' protection state, the fan policy (automatic with a
// target temperature, or a fixed speed), each board's frequency and voltage
// within its chips' limits, and autotuning.

import * as api from "./api.js";
import { createAutotuneCard } from "./autotune.js";
import { busy, el, text } from "./dom.js";
import { formatCount, formatMHz, formatPercent, formatVolts } from "./format.js";
import { createProtectionCard } from "./protection.js";

const byId = (id) => document.getElementById(id);

// checkRange returns an error message when v is not a number in [min, max].
function checkRange(label, v, min, max, unit) {
  if (!isFinite(v)) return label + " must be a number.";
  if ((isFinite(min) && v < min) || (isFinite(max) && v > max)) {
    return label + " must be between " + min + " and " + max + " " + unit + ".";
  }
  return "";
}

function numberField(id, label, value, min, max, step) {
  return [
    el("label", { htmlFor: id }, label),
    el("input", { id, type: "number", value: String(value ?? ""), min: String(min), max: String(max), step: String(step), required: true }),
  ];
}

// boardForm builds the form of one tunable board.
function boardForm(b) {
  const L = b.limits || {};
  const p = "board-" + b.index;
  return el("form", { className: "form-grid board-form", dataset: { board: String(b.index) }, testid: p, noValidate: true },
    el("h3", {}, "Board " + b.index + " · " + (b.model || b.kind || "")),
    el("p", { className: "muted" }, "Now " + formatMHz(b.frequency_mhz) + " at " + formatVolts(b.voltage_mv) +
      ". Allowed " + formatCount(L.frequency_min_mhz) + "–" + formatCount(L.frequency_max_mhz) + " MHz, " +
      formatCount(L.voltage_min_mv) + "–" + formatCount(L.voltage_max_mv) + " mV."),
    numberField(p + "-frequency", "Frequency (MHz)", b.frequency_mhz, L.frequency_min_mhz, L.frequency_max_mhz, 1),
    numberField(p + "-voltage", "Voltage (mV)", b.voltage_mv, L.voltage_min_mv, L.voltage_max_mv, 1),
    el("p", { className: "form-error", role: "alert" }),
    el("div", { className: "actions" },
      el("button", { type: "submit", className: "btn btn-primary", id: p + "-save" }, "Apply"),
      el("span", { className: "muted saved", role: "status" })));
}

// createTuning wires the tuning section.
export function createTuning(ctx) {
  let tuning = null;
  const protection = createProtectionCard();
  const autotune = createAutotuneCard();

  function setMode(mode) {
    byId("fan-mode-auto").checked = mode !== "manual";
    byId("fan-mode-manual").checked = mode === "manual";
    byId("fan-target").disabled = mode === "manual";
    byId("fan-percent").disabled = mode !== "manual";
  }

  // fill shows a GET /api/v1/tuning answer; parts limits it to "fan" or
  // "boards", so saving one form keeps what was typed in the others.
  function fill(t, parts = "fan boards") {
    tuning = t;
    if (parts.includes("fan")) fillFan((t && t.fan) || {});
    if (parts.includes("boards")) fillBoards((t && t.boards) || []);
  }

  function fillFan(f) {
    setMode(f.mode);
    byId("fan-target").value = f.target_c > 0 ? String(f.target_c) : "";
    byId("fan-target").placeholder = "e.g. 65";
    byId("fan-percent").value = typeof f.percent === "number" ? String(Math.round(f.percent)) : "";
  }

  let fills = 0;
  function fillBoards(boards) {
    const forms = byId("board-forms");
    if (boards.length === 0) {
      forms.replaceChildren(el("p", { className: "muted" }, "Nothing to tune: this backend has no adjustable boards."));
    } else {
      forms.replaceChildren(...boards.map(boardForm));
    }
    // Counts the rebuilds, so a script can wait for fresh forms.
    forms.dataset.fills = String(++fills);
  }

  async function load() {
    try {
      fill(await api.get("/api/v1/tuning"));
    } catch (err) {
      if (err.status !== 401) ctx.notify("Tuning: " + api.errorText(err));
    }
  }

  async function saveFan(ev) {
    ev.preventDefault();
    const manual = byId("fan-mode-manual").checked;
    let body;
    let msg;
    if (manual) {
      const percent = byId("fan-percent").valueAsNumber;
      msg = checkRange("Fan speed", percent, 0, 100, "%");
      body = { mode: "manual", percent };
    } else {
      const target = byId("fan-target").valueAsNumber;
      const input = byId("fan-target");
      msg = checkRange("Target temperature", target, Number(input.min), Number(input.max), "°C");
      body = { mode: "auto", target_c: target };
    }
    text(byId("fan-error"), msg);
    text(byId("fan-saved"), "");
    if (msg) return;
    try {
      fill(await busy(byId("fan-save"), api.put("/api/v1/tuning/fan", body)), "fan");
      text(byId("fan-saved"), manual ? "Fans held at " + formatPercent(body.percent) + "." : "Fans follow the temperature.");
    } catch (err) {
      text(byId("fan-error"), api.errorText(err));
    }
  }

  async function saveBoard(form) {
    const index = Number(form.dataset.board);
    const b = ((tuning && tuning.boards) || []).find((x) => x.index === index);
    const L = (b && b.limits) || {};
    const freq = byId("board-" + index + "-frequency").valueAsNumber;
    const volt = byId("board-" + index + "-voltage").valueAsNumber;
    const msg = checkRange("Frequency", freq, L.frequency_min_mhz, L.frequency_max_mhz, "MHz") ||
      checkRange("Voltage", volt, L.voltage_min_mv, L.voltage_max_mv, "mV");
    const errEl = form.querySelector(".form-error");
    text(errEl, msg);
    if (msg) return;
    try {
      const t = await busy(form.querySelector("button[type=submit]"),
        api.put("/api/v1/tuning/boards/" + index, { frequency_mhz: freq, voltage_mv: volt }));
      fill(t);
      const saved = byId("board-forms").querySelector("form[data-board='" + index + "'] .saved");
      if (saved) text(saved, "Applied; the chains restart.");
    } catch (err) {
      text(errEl, api.errorText(err));
    }
  }

  byId("fan-form").addEventListener("submit", saveFan);
  byId("fan-form").addEventListener("change", (ev) => {
    if (ev.target.name === "mode") setMode(ev.target.value);
  });
  byId("board-forms").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saveBoard(ev.target);
  });

  return {
    show() {
      load();
      protection.show();
      autotune.show();
    },
    hide() {
      protection.hide();
      autotune.hide();
    },
    reset() {
      protection.hide();
      autotune.hide();
    },
    status(data) {
      const rows = [];
      for (const f of data.fans || []) {
        rows.push(el("dt", {}, "Fan " + f.index),
          el("dd", { testid: "tuning-fan-" + f.index }, formatCount(f.rpm) + " rpm · " + formatPercent(f.percent)));
      }
      if (rows.length === 0) rows.push(el("dt", {}, "Fans"), el("dd", { className: "muted" }, "none"));
      const dl = byId("tuning-fans");
      const next = rows.map((r) => r.textContent).join("|");
      if (Array.from(dl.children, (r) => r.textContent).join("|") !== next) dl.replaceChildren(...rows);
    },
  };
}
