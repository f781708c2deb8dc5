// Status page: polls the REST API every two seconds and fills in the page.
// Values are written with textContent only, never as HTML.
"use strict";

(function () {
  const POLL_MS = 2000;

  const byId = (id) => document.getElementById(id);

  // scaled writes n with SI prefixes (k, M, G, T, P, E) and three
  // significant digits, e.g. 1234567 -> "1.23 M".
  function scaled(n, unit) {
    if (typeof n !== "number" || !isFinite(n)) return "–";
    const prefixes = ["", "k", "M", "G", "T", "P", "E"];
    let i = 0;
    let v = Math.abs(n);
    while (v >= 1000 && i < prefixes.length - 1) {
      v /= 1000;
      i++;
    }
    const digits = v >= 100 || i === 0 && Number.isInteger(v) ? 0 : v >= 10 ? 1 : 2;
    const sign = n < 0 ? "-" : "";
    return sign + v.toFixed(digits) + " " + prefixes[i] + unit;
  }

  // formatHashrate: H/s, kH/s, MH/s, GH/s, TH/s...
  const formatHashrate = (hs) => scaled(hs, "H/s");

  // formatDifficulty: 65536 -> "65.5 k"; test-pool difficulties below 1
  // keep three significant digits (0.0078125 -> "0.00781").
  function formatDifficulty(d) {
    if (typeof d === "number" && d > 0 && d < 1) return d.toPrecision(3).replace(/0+$/, "");
    return scaled(d, "").trim();
  }

  function formatCount(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "–";
  }

  // formatDuration: seconds -> "3d 4h 5m", "4h 5m 6s", "5m 6s", "6s".
  function formatDuration(s) {
    if (typeof s !== "number" || !isFinite(s) || s < 0) return "–";
    s = Math.floor(s);
    const d = Math.floor(s / 86400);
    const h = Math.floor(s % 86400 / 3600);
    const m = Math.floor(s % 3600 / 60);
    const sec = s % 60;
    if (d > 0) return d + "d " + h + "h " + m + "m";
    if (h > 0) return h + "h " + m + "m " + sec + "s";
    if (m > 0) return m + "m " + sec + "s";
    return sec + "s";
  }

  // formatAgo: an RFC 3339 time -> "12s ago", or "never".
  function formatAgo(iso) {
    if (!iso) return "never";
    const t = Date.parse(iso);
    if (isNaN(t)) return "–";
    return formatDuration(Math.max(0, (Date.now() - t) / 1000)) + " ago";
  }

  function setText(id, text) {
    const el = byId(id);
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setConn(ok, message) {
    const el = byId("conn-status");
    el.className = "conn " + (ok ? "conn-ok" : "conn-err");
    el.textContent = ok ? "live" : message;
  }

  function renderSummary(s) {
    setText("hashrate", formatHashrate(s.hashrate_hs));
    setText("hashrate-5s", formatHashrate(s.hashrate_5s_hs));
    setText("hashrate-15m", formatHashrate(s.hashrate_15m_hs));
    setText("accepted", formatCount(s.accepted));
    setText("rejected", formatCount(s.rejected));
    setText("stale", formatCount(s.stale));
    setText("hw-errors", formatCount(s.hw_errors));
    setText("last-share", formatAgo(s.last_share));
    setText("active-pool", s.active_pool || "none");
    setText("difficulty", formatDifficulty(s.difficulty));
    setText("best-share", formatDifficulty(s.best_share));
    setText("uptime", formatDuration(s.uptime_s));
    setText("board", s.board || "–");
    setText("units", formatCount(s.units) + (s.units === 1 ? " unit" : " units"));
    byId("rejected").classList.toggle("bad", s.rejected > 0);
    byId("hw-errors").classList.toggle("bad", s.hw_errors > 0);
  }

  const KNOWN_STATUS = ["active", "standby", "connecting", "dead", "disabled"];

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function poolRow(p) {
    const tr = document.createElement("tr");
    if (p.active) tr.className = "active";
    const badge = document.createElement("span");
    badge.className = "badge" + (KNOWN_STATUS.includes(p.status) ? " st-" + p.status : "");
    badge.textContent = p.status || "–";
    const status = document.createElement("td");
    status.appendChild(badge);
    const rejected = cell(formatCount(p.rejected), "num");
    const reasons = Object.entries(p.rejected_by_reason || {});
    if (reasons.length) rejected.title = reasons.map(([r, n]) => r + ": " + n).join("\n");
    tr.append(
      cell(String(p.priority), "num"),
      cell(p.url, "url"),
      cell(p.user),
      status,
      cell(formatDifficulty(p.difficulty), "num"),
      cell(formatCount(p.accepted), "num"),
      rejected,
      cell(formatCount(p.stale), "num"),
      cell(p.latency_ms > 0 ? p.latency_ms.toFixed(0) + " ms" : "–", "num"),
      cell(formatAgo(p.last_share)),
      cell(p.version_rolling ? "yes" : "no"),
      cell(p.last_error || "", "error"),
    );
    return tr;
  }

  function renderPools(pools) {
    const body = byId("pools-body");
    if (!Array.isArray(pools) || pools.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("No pools configured.", "empty");
      td.colSpan = 12;
      tr.appendChild(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...pools.map(poolRow));
  }

  // chipRows flattens boards → chains → chips into table rows.
  function chipRows(boards) {
    const rows = [];
    for (const b of boards || []) {
      for (const ch of b.chains || []) {
        for (const c of ch.chips || []) {
          const tr = document.createElement("tr");
          const badge = document.createElement("span");
          badge.className = "badge " + (c.responding ? "st-active" : "st-dead");
          badge.textContent = c.responding ? ch.state : "not answering";
          const status = document.createElement("td");
          status.appendChild(badge);
          const rate = c.nonces + c.hw_errors > 0 ? (100 * c.hw_error_rate).toFixed(2) + " %" : "–";
          tr.append(
            cell(String(ch.index), "num"),
            cell(String(c.index), "num"),
            cell("0x" + c.address.toString(16).padStart(2, "0"), "url"),
            status,
            cell(c.frequency_mhz > 0 ? c.frequency_mhz.toFixed(0) + " MHz" : "–", "num"),
            cell(c.voltage_mv > 0 ? (c.voltage_mv / 1000).toFixed(3) + " V" : "–", "num"),
            cell(c.temperature_c > 0 ? c.temperature_c.toFixed(1) + " °C" : "–", "num"),
            cell(formatHashrate(c.hashrate_hs), "num"),
            cell(formatCount(c.nonces), "num"),
            cell(formatCount(c.hw_errors) + " (" + rate + ")", "num"),
            cell(formatAgo(c.last_nonce)),
          );
          rows.push(tr);
        }
      }
    }
    return rows;
  }

  function renderBoards(boards) {
    const rows = chipRows(boards);
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = cell("No chips: hashing on the CPU.", "empty");
      td.colSpan = 11;
      tr.appendChild(td);
      byId("chips-body").replaceChildren(tr);
      return;
    }
    byId("chips-body").replaceChildren(...rows);
  }

  async function getJSON(path) {
    // location.origin never carries user:pass@, which fetch() refuses when
    // the page itself was opened with credentials in its URL.
    const res = await fetch(new URL(path, location.origin), {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) {
      let msg = "HTTP " + res.status;
      try {
        const body = await res.json();
        if (body && body.error) msg += ": " + body.error;
      } catch (_) { /* not JSON */ }
      throw new Error(msg);
    }
    return res.json();
  }

  let timer = 0;

  async function poll() {
    clearTimeout(timer);
    try {
      const [summary, pools, boards] = await Promise.all([
        getJSON("/api/v1/summary"),
        getJSON("/api/v1/pools"),
        getJSON("/api/v1/boards"),
      ]);
      renderSummary(summary);
      renderPools(pools);
      renderBoards(boards);
      setConn(true);
    } catch (err) {
      setConn(false, "offline (" + err.message + ")");
    } finally {
      timer = setTimeout(poll, POLL_MS);
    }
  }

  async function loadVersion() {
    try {
      const h = await getJSON("/api/v1/health");
      setText("version", h.version || "–");
    } catch (_) { /* shown by the poll's connection status */ }
  }

  document.addEventListener("DOMContentLoaded", () => {
    loadVersion();
    poll();
  });

  // Exposed for tests and the browser console.
  window.kiln = { formatHashrate, formatDifficulty, formatDuration, formatCount };
})();
