// A small time-series line chart drawn on a <canvas>: the hashrate history
// from the database plus the live 5 s / 1 min / 15 min averages from the
// stream. Colours come from CSS custom properties so dark mode works.

import { formatClock, scaled } from "./format.js";

// SERIES are the lines, in drawing order; key names the CSS colour
// variable (--series-KEY) and the legend entry.
export const SERIES = [
  { key: "history", label: "history", width: 2 },
  { key: "s15m", label: "15 min", width: 1.5 },
  { key: "m1", label: "1 min", width: 2 },
  { key: "s5", label: "5 s", width: 1 },
];

// MAX_LIVE bounds the live points kept in memory: a week at one per 2 s is
// ~300 k, far more than a chart needs; older live points are dropped.
const MAX_LIVE = 20000;

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

// timeStep picks the smallest x tick spacing that gives at most maxLabels
// labels.
function timeStep(spanMs, maxLabels) {
  const steps = [60e3, 5 * 60e3, 10 * 60e3, 15 * 60e3, 30 * 60e3, 3600e3, 2 * 3600e3,
    3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3];
  for (const s of steps) if (spanMs / s <= maxLabels) return s;
  return steps[steps.length - 1];
}

// HashChart draws into one canvas and redraws itself when resized.
export class HashChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.rangeMs = 3600e3;
    this.history = []; // [{t, v}] from GET /api/v1/history
    this.stepMs = 60e3;
    this.live = { s5: [], m1: [], s15m: [] }; // [{t, v}] from the stream
    this.pending = false;
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => this.redraw()).observe(canvas);
    }
  }

  // setRange sets the time span shown, in seconds.
  setRange(seconds) {
    this.rangeMs = seconds * 1000;
    this.redraw();
  }

  // setHistory replaces the stored samples ({time, hashrate_hs}).
  setHistory(samples, stepS) {
    this.stepMs = (stepS > 0 ? stepS : 60) * 1000;
    this.history = (samples || [])
      .map((s) => ({ t: Date.parse(s.time), v: Number(s.hashrate_hs) }))
      .filter((p) => !isNaN(p.t) && isFinite(p.v))
      .sort((a, b) => a.t - b.t);
    this.redraw();
  }

  // addLive appends one stream summary's three averages.
  addLive(t, summary) {
    const add = (list, v) => {
      if (typeof v !== "number" || !isFinite(v)) return;
      list.push({ t, v });
      if (list.length > MAX_LIVE) list.splice(0, list.length - MAX_LIVE);
    };
    add(this.live.s5, summary.hashrate_5s_hs);
    add(this.live.m1, summary.hashrate_hs);
    add(this.live.s15m, summary.hashrate_15m_hs);
    this.redraw();
  }

  // redraw schedules one draw on the next animation frame; calls in
  // between are merged.
  redraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  seriesPoints(key) {
    return key === "history" ? this.history : this.live[key];
  }

  colours() {
    const cs = getComputedStyle(this.canvas);
    const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
    const out = { grid: v("--line", "#ddd"), text: v("--muted", "#666") };
    for (const s of SERIES) out[s.key] = v("--series-" + s.key, "#ea580c");
    return out;
  }

  draw() {
    const c = this.canvas;
    const w = c.clientWidth;
    const h = c.clientHeight;
    if (w === 0 || h === 0) return; // hidden view
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const col = this.colours();
    ctx.font = "11px system-ui, sans-serif";

    const now = Date.now();
    const x0 = now - this.rangeMs;
    let max = 0;
    for (const s of SERIES) {
      for (const p of this.seriesPoints(s.key)) if (p.t >= x0 && p.v > max) max = p.v;
    }
    const yStep = niceStep((max > 0 ? max * 1.1 : 1) / 4);
    const yMax = Math.max(yStep, Math.ceil((max * 1.1) / yStep) * yStep);

    const left = Math.max(48, ctx.measureText(scaled(yMax, "H/s")).width + 10);
    const plot = { l: left, r: w - 8, t: 8, b: h - 22 };
    const xOf = (t) => plot.l + ((t - x0) / this.rangeMs) * (plot.r - plot.l);
    const yOf = (v) => plot.b - (v / yMax) * (plot.b - plot.t);

    this.drawGrid(ctx, col, plot, { x0, now, yStep, yMax, xOf, yOf });
    if (max === 0 && !this.hasPoints(x0)) {
      ctx.fillStyle = col.text;
      ctx.textAlign = "center";
      ctx.fillText("waiting for data…", (plot.l + plot.r) / 2, (plot.t + plot.b) / 2);
      return;
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.l, plot.t - 2, plot.r - plot.l, plot.b - plot.t + 4);
    ctx.clip();
    for (const s of SERIES) {
      const gap = s.key === "history" ? this.stepMs * 2.5 : 30e3;
      this.drawLine(ctx, this.seriesPoints(s.key), x0, gap, xOf, yOf, col[s.key], s.width);
    }
    ctx.restore();
  }

  hasPoints(x0) {
    return SERIES.some((s) => this.seriesPoints(s.key).some((p) => p.t >= x0));
  }

  drawGrid(ctx, col, plot, g) {
    ctx.strokeStyle = col.grid;
    ctx.fillStyle = col.text;
    ctx.lineWidth = 1;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = 0; v <= g.yMax + g.yStep / 2; v += g.yStep) {
      const y = Math.round(g.yOf(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.l, y);
      ctx.lineTo(plot.r, y);
      ctx.stroke();
      ctx.fillText(scaled(v, "H/s"), plot.l - 6, y);
    }
    const span = g.now - g.x0;
    const withDay = span > 86400e3;
    const labelW = ctx.measureText(formatClock(g.now, withDay)).width + 16;
    const step = timeStep(span, Math.max(2, Math.floor((plot.r - plot.l) / labelW)));
    const offset = new Date().getTimezoneOffset() * 60e3;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    let t = Math.ceil((g.x0 - offset) / step) * step + offset;
    for (let i = 0; t <= g.now && i < 30; t += step, i++) {
      const x = Math.round(g.xOf(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, plot.t);
      ctx.lineTo(x, plot.b);
      ctx.stroke();
      // a label that would run off the right edge is left out
      const label = formatClock(t, withDay);
      if (x + ctx.measureText(label).width / 2 <= plot.r + 6) ctx.fillText(label, x, plot.b + 5);
    }
  }

  drawLine(ctx, points, x0, gapMs, xOf, yOf, colour, width) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.lineJoin = "round";
    ctx.fillStyle = colour;
    ctx.beginPath();
    const lone = []; // points with no neighbour close enough to join
    let prev = null;
    let run = 0;
    for (const p of points) {
      if (p.t < x0 - gapMs) continue;
      const x = xOf(p.t);
      const y = yOf(p.v);
      if (prev === null || p.t - prev.t > gapMs) {
        if (run === 1) lone.push(prev);
        ctx.moveTo(x, y);
        run = 1;
      } else {
        ctx.lineTo(x, y);
        run++;
      }
      prev = { t: p.t, x, y };
    }
    if (run === 1) lone.push(prev);
    ctx.stroke();
    for (const p of lone) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, width + 1, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}
