// The firmware card of the system page: slot state and the upload of a
// signed image (GET/POST /api/v1/firmware).

import * as api from "./api.js";
import { busy, text } from "./dom.js";

const byId = (id) => document.getElementById(id);

// createFirmware wires the card; show() reloads its state.
export function createFirmware() {
  async function load() {
    let fw;
    try {
      fw = await api.get("/api/v1/firmware");
    } catch (err) {
      text(byId("fw-state"), api.errorText(err));
      byId("fw-upload").disabled = true;
      return;
    }
    text(byId("fw-running"), fw.version + " on " + fw.board + (fw.booted ? " (slot " + fw.booted + ")" : ""));
    const slots = Object.entries(fw.slots || {}).map(([s, v]) => s + ": " + v);
    text(byId("fw-slots"), slots.length ? slots.join(", ") : "–");
    let state = "No upgrade pending.";
    if (!fw.enabled) state = "Upgrades are off: " + (fw.reason || "not configured");
    else if (fw.trial) state = "Slot " + fw.booted + " is on trial until the controller mines.";
    else if (fw.pending) state = "Slot " + fw.pending + " is written: reboot to try it.";
    else if (fw.rolled_back) state = "Slot " + fw.rolled_back + " failed its trial and was rolled back.";
    text(byId("fw-state"), state);
    byId("fw-upload").disabled = !fw.enabled;
  }

  async function upload() {
    const out = byId("fw-status");
    const file = byId("fw-file").files[0];
    if (!file) {
      out.className = "bad";
      text(out, "Choose an image file first.");
      return;
    }
    try {
      const res = await busy(byId("fw-upload"), api.post("/api/v1/firmware", file));
      out.className = "good";
      text(out, "Firmware " + res.version + " written to slot " + res.slot + ". Reboot to try it.");
    } catch (err) {
      out.className = "bad";
      text(out, api.errorText(err));
    }
    load();
  }

  byId("fw-upload").addEventListener("click", upload);
  return { show: load };
}
