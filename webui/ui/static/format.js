// Number, time and size formatting shared by every view. Pure functions:
// they return strings and never touch the page.

const PREFIXES = ["", "k", "M", "G", "T", "P", "E"];

// scaled writes n with SI prefixes (k, M, G, T, P, E) and three significant
// digits, e.g. 1234567 -> "1.23 M".
export function scaled(n, unit) {
  if (typeof n !== "number" || !isFinite(n)) return "–";
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1000 && i < PREFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = v >= 100 || (i === 0 && Number.isInteger(v)) ? 0 : v >= 10 ? 1 : 2;
  const sign = n < 0 ? "-" : "";
  return sign + v.toFixed(digits) + " " + PREFIXES[i] + unit;
}

// formatHashrate: H/s, kH/s, MH/s, GH/s, TH/s...
export const formatHashrate = (hs) => scaled(hs, "H/s");

// formatDifficulty: 65536 -> "65.5 k"; test-pool difficulties below 1 keep
// three significant digits (0.0078125 -> "0.00781").
export function formatDifficulty(d) {
  if (typeof d === "number" && d > 0 && d < 1) return d.toPrecision(3).replace(/0+$/, "");
  return scaled(d, "").trim();
}

// formatCount: 1234567 -> "1,234,567".
export function formatCount(n) {
  return typeof n === "number" && isFinite(n) ? n.toLocaleString("en-US") : "–";
}

// formatDuration: seconds -> "3d 4h 5m", "4h 5m 6s", "5m 6s", "6s".
export function formatDuration(s) {
  if (typeof s !== "number" || !isFinite(s) || s < 0) return "–";
  s = Math.floor(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return d + "d " + h + "h " + m + "m";
  if (h > 0) return h + "h " + m + "m " + sec + "s";
  if (m > 0) return m + "m " + sec + "s";
  return sec + "s";
}

// formatAgo: an RFC 3339 time -> "12s ago", or "never".
export function formatAgo(iso) {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (isNaN(t)) return "–";
  return formatDuration(Math.max(0, (Date.now() - t) / 1000)) + " ago";
}

const pad2 = (n) => String(n).padStart(2, "0");

// formatTime: an RFC 3339 time -> "2025-01-31 14:05:09" in local time.
export function formatTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "–";
  return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()) + " " +
    pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
}

// formatClock: milliseconds since the epoch -> "14:05", or "31 Jan 14h" for
// axes that span days.
export function formatClock(ms, withDay) {
  const d = new Date(ms);
  const hm = pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  if (!withDay) return hm;
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  return d.getDate() + " " + months[d.getMonth()] + " " + hm;
}

// formatTemp: 55.23 -> "55.2 °C"; 0 or missing means no sensor.
export function formatTemp(c) {
  return typeof c === "number" && isFinite(c) && c > 0 ? c.toFixed(1) + " °C" : "–";
}

// formatMHz: 485 -> "485 MHz".
export function formatMHz(f) {
  return typeof f === "number" && f > 0 ? f.toFixed(0) + " MHz" : "–";
}

// formatVolts: millivolts -> "1.200 V".
export function formatVolts(mv) {
  return typeof mv === "number" && mv > 0 ? (mv / 1000).toFixed(3) + " V" : "–";
}

// formatPercent: 70 -> "70 %".
export function formatPercent(p) {
  return typeof p === "number" && isFinite(p) ? Math.round(p) + " %" : "–";
}

// formatMs: 12.3 -> "12 ms"; 0 means not measured.
export function formatMs(ms) {
  return typeof ms === "number" && ms > 0 ? ms.toFixed(0) + " ms" : "–";
}
