// Simulation: on the simulated board (--board sim) faults can be injected
// to see the protection act: a stalled fan, a failed sensor, overheating, a
// chip that stops answering, a sagging voltage. The card stays hidden on
// real hardware, where GET /api/v1/sim/faults answers 404.

import * as api from "./api.js";
import { busy, el, text } from "./dom.js";

const byId = (id) => document.getElementById(id);

// FAULTS names each fault kind and says what it applies to: the whole
// board, a chain or one chip of a chain.
const FAULTS = {
  fan_stall: { label: "Fan stall", scope: "board" },
  sensor_failure: { label: "Temperature sensor failure", scope: "chain" },
  overheat: { label: "Overheat (blocked air path)", scope: "chain" },
  chip_dropout: { label: "Chip stops answering", scope: "chip" },
  voltage_sag: { label: "Voltage sag", scope: "chain" },
};

// faultText describes one active fault, e.g. "Chip stops answering: chain
// 0, chip 3".
function faultText(f) {
  const kind = FAULTS[f.fault];
  let s = kind ? kind.label : f.fault;
  if (f.chain >= 0) s += ": chain " + f.chain;
  if (f.chip >= 0 && (!kind || kind.scope === "chip")) s += ", chip " + f.chip;
  return s;
}

// setOptions gives a <select> the options values (numbers), keeping the
// current choice when it is still offered.
function setOptions(select, values, label) {
  const want = values.map(String);
  const have = Array.from(select.options, (o) => o.value);
  if (want.join(",") === have.join(",")) return;
  const keep = select.value;
  select.replaceChildren(...want.map((v) => el("option", { value: v }, label + " " + v)));
  if (want.includes(keep)) select.value = keep;
}

// createSimulation wires the simulation card of the system page. changed
// is called after an injection or a clear (to refresh the event log).
export function createSimulation(changed) {
  const card = byId("sim-card");
  const out = byId("sim-status");
  let boards = [];

  function chains() {
    const list = [];
    for (const b of boards) for (const ch of b.chains || []) list.push(ch);
    return list;
  }

  // fillTargets offers the chains and the chips of the chosen chain, and
  // enables only the targets the chosen fault uses.
  function fillTargets() {
    const all = chains();
    setOptions(byId("sim-chain"), all.length ? all.map((ch) => ch.index) : [0], "Chain");
    const chain = all.find((ch) => String(ch.index) === byId("sim-chain").value);
    const chips = chain && chain.chips && chain.chips.length ? chain.chips.map((c) => c.index) : [0];
    setOptions(byId("sim-chip"), chips, "Chip");
    const scope = (FAULTS[byId("sim-fault").value] || {}).scope;
    byId("sim-chain").disabled = scope === "board";
    byId("sim-chip").disabled = scope !== "chip";
  }

  function render(list) {
    const items = (Array.isArray(list) ? list : []).map((f) => el("li", { testid: "sim-fault-row", dataset: { fault: f.fault } }, faultText(f)));
    const ul = byId("sim-faults");
    if (items.length) ul.replaceChildren(...items);
    else ul.replaceChildren(el("li", { className: "muted", testid: "sim-no-faults" }, "No faults: the simulated board runs normally."));
    byId("sim-clear").disabled = items.length === 0;
  }

  async function load() {
    try {
      render(await api.get("/api/v1/sim/faults"));
      card.hidden = false;
      fillTargets();
    } catch (err) {
      card.hidden = true; // 404: not the simulated board
    }
  }

  async function inject(ev) {
    ev.preventDefault();
    const fault = byId("sim-fault").value;
    const body = { fault, chain: Number(byId("sim-chain").value) || 0, chip: Number(byId("sim-chip").value) || 0 };
    try {
      render(await busy(byId("sim-inject"), api.post("/api/v1/sim/faults", body)));
      out.className = "good";
      text(out, "Injected: " + faultText({ fault, chain: FAULTS[fault].scope === "board" ? -1 : body.chain,
        chip: FAULTS[fault].scope === "chip" ? body.chip : -1 }) + ".");
    } catch (err) {
      out.className = "bad";
      text(out, "Injection failed: " + api.errorText(err));
    }
    changed();
  }

  async function clear() {
    try {
      await busy(byId("sim-clear"), api.del("/api/v1/sim/faults"));
      render([]);
      out.className = "good";
      text(out, "Faults cleared; stopped chains restart once their cause has cleared for a while.");
    } catch (err) {
      out.className = "bad";
      text(out, "Clearing failed: " + api.errorText(err));
    }
    changed();
  }

  byId("sim-form").addEventListener("submit", inject);
  byId("sim-form").addEventListener("change", fillTargets);
  byId("sim-clear").addEventListener("click", clear);
  const select = byId("sim-fault");
  select.replaceChildren(...Object.entries(FAULTS).map(([v, f]) => el("option", { value: v }, f.label)));

  return {
    show(latest) {
      boards = (latest && latest.boards) || [];
      text(out, "");
      load();
    },
    status(data) {
      if (card.hidden || data.boards === boards) return;
      boards = data.boards || [];
      fillTargets();
    },
  };
}
