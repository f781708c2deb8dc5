// Pools: the live table, add / edit / delete / reorder, and the trial
// connection ("Test").

import * as api from "./api.js";
import { badge, busy, el, emptyRow, syncRows, text } from "./dom.js";
import { formatAgo, formatCount, formatDifficulty, formatMs } from "./format.js";

const byId = (id) => document.getElementById(id);

const KNOWN_STATUS = ["active", "standby", "connecting", "dead", "disabled"];
const COLUMNS = 11;

function actionButton(action, index, label, title, disabled) {
  return el("button", {
    type: "button", className: "btn btn-small", title, disabled,
    dataset: { action, index: String(index) }, testid: "pool-" + action + "-" + index,
  }, label);
}

// poolCells renders one pool; index is its position in the list, which is
// the {index} of the pool routes.
function poolCells(p, index, count) {
  const status = el("td", {}, badge(p.status || "–", KNOWN_STATUS.includes(p.status) ? p.status : "unknown"));
  status.dataset.testid = "pool-status-" + index;
  const rejected = el("td", { className: "num" }, formatCount(p.rejected));
  const reasons = Object.entries(p.rejected_by_reason || {});
  if (reasons.length) rejected.title = reasons.map(([r, n]) => r + ": " + n).join("\n");
  const url = el("td", { className: "pool" },
    el("div", { className: "url" }, p.url, p.demo ? [" ", badge("built-in demo", "standby")] : []),
    el("div", { className: "muted small" }, p.user || ""),
    p.last_error ? el("div", { className: "error small" }, p.last_error) : null);
  let actions;
  if (p.demo) {
    actions = el("td", { className: "muted" }, "used while no pool is set");
  } else {
    actions = el("td", {}, el("div", { className: "row-actions" },
      actionButton("up", index, "↑", "Move up", index === 0),
      actionButton("down", index, "↓", "Move down", index === count - 1),
      actionButton("edit", index, "Edit", "Edit this pool"),
      actionButton("delete", index, "Delete", "Delete this pool")));
  }
  return [
    el("td", { className: "num" }, String(index + 1)),
    url,
    status,
    el("td", { className: "num" }, formatDifficulty(p.difficulty)),
    el("td", { className: "num" }, formatCount(p.accepted)),
    rejected,
    el("td", { className: "num" }, formatCount(p.stale)),
    el("td", { className: "num" }, formatMs(p.latency_ms)),
    formatAgo(p.last_share),
    p.version_rolling ? "yes" : "no",
    actions,
  ];
}

// describeTest turns a POST /api/v1/pools/test answer into a sentence.
function describeTest(r) {
  if (!r || !r.ok) return "Failed: " + ((r && r.error) || "no answer");
  const parts = ["OK: first job after " + formatMs(r.latency_ms)];
  if (r.difficulty > 0) parts.push("difficulty " + formatDifficulty(r.difficulty));
  parts.push("version rolling " + (r.version_rolling ? "yes" : "no"));
  return parts.join(", ");
}

// createPools wires the pools section.
export function createPools(ctx) {
  const body = byId("pools-body");
  let pools = []; // the list as last shown
  let editing = -1; // index of the pool in the form, -1 when adding

  function render(list) {
    if (!Array.isArray(list)) return;
    pools = list;
    if (list.length === 0) {
      body.replaceChildren(emptyRow(COLUMNS, "No pools."));
      return;
    }
    syncRows(body, list.map((p, i) => ({ p, i })),
      ({ p, i }) => i + "|" + p.url + "|" + (p.demo ? "demo" : ""),
      ({ p, i }) => poolCells(p, i, list.filter((q) => !q.demo).length),
      ({ p }) => (p.active ? "active" : ""));
    for (const tr of body.rows) tr.dataset.testid = "pool-row";
  }

  async function load() {
    try {
      render(await api.get("/api/v1/pools"));
    } catch (err) {
      if (err.status !== 401) ctx.notify("Pools: " + api.errorText(err));
    }
  }

  function formValues() {
    return {
      url: byId("pool-url").value.trim(),
      user: byId("pool-user").value.trim(),
      password: byId("pool-password").value,
      enabled: byId("pool-enabled").checked,
    };
  }

  function setForm(index) {
    editing = index;
    const p = index >= 0 ? pools[index] : null;
    byId("pool-url").value = p ? p.url : "";
    byId("pool-user").value = p ? p.user : "";
    byId("pool-password").value = "";
    byId("pool-password").placeholder = p ? "unchanged" : "x";
    byId("pool-enabled").checked = p ? p.enabled : true;
    text(byId("pool-form-title"), p ? "Edit pool " + (index + 1) : "Add a pool");
    text(byId("pool-save"), p ? "Save" : "Add pool");
    byId("pool-cancel").hidden = !p;
    text(byId("pool-error"), "");
    text(byId("pool-test-result"), "");
    if (p) byId("pool-url").focus();
  }

  async function save(ev) {
    ev.preventDefault();
    const v = formValues();
    if (!v.url) return text(byId("pool-error"), "Enter the pool URL, e.g. stratum+tcp://pool.example:3333.");
    text(byId("pool-error"), "");
    try {
      const list = await busy(byId("pool-save"), editing >= 0
        ? api.put("/api/v1/pools/" + editing, v)
        : api.post("/api/v1/pools", v));
      render(list);
      ctx.notify(editing >= 0 ? "Pool saved." : "Pool added.", "ok");
      setForm(-1);
    } catch (err) {
      text(byId("pool-error"), api.errorText(err));
    }
  }

  async function test() {
    const v = formValues();
    const out = byId("pool-test-result");
    if (!v.url) return text(byId("pool-error"), "Enter the pool URL to test.");
    text(byId("pool-error"), "");
    out.className = "test-result";
    text(out, "Testing…");
    try {
      const r = await busy(byId("pool-test"), api.post("/api/v1/pools/test", v));
      out.className = "test-result " + (r && r.ok ? "good" : "bad");
      out.dataset.ok = String(Boolean(r && r.ok));
      text(out, describeTest(r));
    } catch (err) {
      out.className = "test-result bad";
      out.dataset.ok = "false";
      text(out, "Test failed: " + api.errorText(err));
    }
  }

  async function act(button) {
    const i = Number(button.dataset.index);
    const action = button.dataset.action;
    const p = pools[i];
    if (!p) return;
    try {
      if (action === "edit") return setForm(i);
      if (action === "delete") {
        if (!window.confirm("Delete pool " + (i + 1) + " (" + p.url + ")?")) return;
        render(await busy(button, api.del("/api/v1/pools/" + i)));
        if (editing === i) setForm(-1);
        return;
      }
      const j = action === "up" ? i - 1 : i + 1;
      const order = pools.filter((q) => !q.demo).map((_, k) => k);
      if (j < 0 || j >= order.length) return;
      [order[i], order[j]] = [order[j], order[i]];
      render(await busy(button, api.post("/api/v1/pools/reorder", { order })));
      if (editing >= 0) setForm(-1);
    } catch (err) {
      ctx.notify("Pool " + (i + 1) + ": " + api.errorText(err));
    }
  }

  body.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (b) act(b);
  });
  byId("pool-form").addEventListener("submit", save);
  byId("pool-test").addEventListener("click", test);
  byId("pool-cancel").addEventListener("click", () => setForm(-1));

  return {
    show: load,
    hide() {},
    reset() {
      setForm(-1);
    },
    status(data) {
      render(data.pools);
    },
  };
}
