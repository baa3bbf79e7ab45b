// uPlot wrapper: theme-aware axes, registration in window.trainwatch.charts,
// live appends with a bounded ring, and "no data" placeholders.
import { TW, h, set, fmtNum, num } from "./core.js";

const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#ec4899", "#14b8a6", "#84cc16", "#f97316", "#06b6d4", "#a855f7", "#eab308"];
export const color = (i) => PALETTE[i % PALETTE.length];

const TH = { axis: "#8a93a3", grid: "rgba(128,128,128,.18)" };

export function readTheme() {
  const cs = getComputedStyle(document.documentElement);
  TH.axis = cs.getPropertyValue("--muted").trim() || TH.axis;
  TH.grid = cs.getPropertyValue("--grid").trim() || TH.grid;
}

const all = new Set();
const byEl = new WeakMap();
let pending = new Set();
let rafId = 0;
const ro =
  typeof ResizeObserver === "function"
    ? new ResizeObserver((entries) => {
        for (const e of entries) {
          const c = byEl.get(e.target);
          if (c) pending.add(c);
        }
        if (!rafId)
          rafId = requestAnimationFrame(() => {
            rafId = 0;
            const cs = pending;
            pending = new Set();
            for (const c of cs) c.fit();
          });
      })
    : null;

// redrawAll repaints every chart with the current theme's colours.
export function redrawAll() {
  readTheme();
  for (const c of all) c.u.redraw(false, false);
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
}

function axisSize(u, values) {
  if (!values || !values.length) return 36;
  let m = 0;
  for (const v of values) m = Math.max(m, String(v).length);
  return Math.ceil(m * 6.6) + 16;
}

const pad = (n) => String(n).padStart(2, "0");

// timeTicks: one-line time labels sized to the tick spacing.
function timeTicks(u, splits, ai, space, incr) {
  const span = u.scales.x.max - u.scales.x.min;
  return splits.map((v) => {
    const d = new Date(v * 1000);
    const hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    const md = d.getMonth() + 1 + "/" + d.getDate();
    if (incr < 1) return pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + String(d.getMilliseconds()).padStart(3, "0");
    if (incr < 60) return hm + ":" + pad(d.getSeconds());
    if (incr >= 86400) return md;
    if (span > 86400 && d.getHours() === 0 && d.getMinutes() === 0) return md;
    return hm;
  });
}

// whole-number tick steps for step axes (no "599 599 600")
const STEP_INCRS = [];
for (let m = 1; m <= 1e12; m *= 10) STEP_INCRS.push(m, 2 * m, 5 * m);

const FONT = "11px system-ui, -apple-system, Segoe UI, Roboto, sans-serif";

// thin halves the density of the older three quarters of the data.
function thin(d, max) {
  const cut = d[0].length - Math.floor(max / 4);
  for (let j = 0; j < d.length; j++) {
    const a = d[j];
    const head = [];
    for (let i = 0; i < cut; i += 2) head.push(a[i]);
    d[j] = head.concat(a.slice(cut));
  }
}

// Chart is one uPlot instance in element el, registered for page ctx.
//
// o: {id, series: [{label, color, fmt, scale, dash, fill, width, stepped,
// spanGaps}], data, height, spark, fmt (y values), yMin, yMax, xTime
// (default true), xFmt, win (live window in seconds), xmin, xmax, max
// (most points kept), axes2 ({scale, fmt} for a right axis), yValues}
export class Chart {
  constructor(ctx, el, o) {
    this.ctx = ctx;
    this.el = el;
    this.o = o;
    this.id = o.id;
    this.height = o.height || (o.spark ? 30 : 170);
    this.win = o.win || 0;
    this.xmin = o.xmin;
    this.xmax = o.xmax;
    this.max = o.max || 2400;
    this.data = o.data || [[], ...o.series.map(() => [])];
    if (o.id) el.id = o.id;
    el.classList.add(o.spark ? "spark" : "chart");
    this.u = new uPlot(this.options(), this.data, el);
    this.single();
    this.entry = { id: o.id, page: ctx.name, chart: this.u, points: () => this.points() };
    TW.charts.push(this.entry);
    ctx.charts.push(this);
    all.add(this);
    byEl.set(el, this);
    if (ro) ro.observe(el);
  }

  options() {
    const o = this.o;
    const fmt = o.fmt || ((v) => fmtNum(v));
    const self = this;
    const series = [o.xTime === false ? { label: o.xLabel || "x", value: (u, v) => (v == null ? "–" : (o.xFmt || fmtNum)(v)) } : {}];
    o.series.forEach((s, i) => {
      const c = s.color || color(i);
      const sf = s.fmt || (s.scale && o.axes2 && s.scale === o.axes2.scale ? o.axes2.fmt : null) || fmt;
      const so = {
        label: s.label,
        stroke: c,
        width: s.width || (o.spark ? 1.25 : 1.5),
        scale: s.scale || "y",
        spanGaps: !!s.spanGaps,
        value: (u, v) => (v == null ? "–" : sf(v)),
      };
      if (s.dash) so.dash = s.dash;
      if (s.fill || o.spark) so.fill = alpha(c, o.spark ? 0.14 : 0.1);
      if (s.stepped) so.paths = uPlot.paths.stepped({ align: 1 });
      if (s.bars) {
        so.paths = uPlot.paths.bars({ size: [0.8, 12] });
        so.fill = alpha(c, 0.7);
        so.points = { show: false };
      }
      // sparklines show a dot only while they have a single point
      if (o.spark) so.points = { show: (u, si, i0, i1) => i0 === i1, size: 4 };
      if (s.points) so.points = s.points;
      series.push(so);
    });
    const yRange = (mnF, mxF) => (u, mn, mx) => {
      const mnOpt = mnF();
      const mxOpt = mxF();
      if (mn == null || !Number.isFinite(mn)) {
        mn = mnOpt != null ? mnOpt : 0;
        mx = mxOpt != null ? mxOpt : 1;
      }
      let lo = mnOpt != null ? Math.min(mn, mnOpt) : mn;
      let hi = mxOpt != null ? Math.max(mx, mxOpt) : mx;
      if (hi === lo) {
        const d = Math.abs(hi) * 0.1 || 1;
        if (mxOpt == null) hi += d;
        if (mnOpt == null || lo > mnOpt) lo -= d;
        if (hi === lo) hi = lo + 1;
      } else {
        const pad = (hi - lo) * 0.06;
        if (mxOpt == null || hi > mxOpt) hi += pad;
        if (mnOpt == null) lo -= pad;
      }
      return [lo, hi];
    };
    const scales = {
      x: {
        time: o.xTime !== false,
        range: (this.xRange = (u, mn, mx) => {
          // the fixed window, widened to data outside it (a run's samples
          // logged just before it was registered)
          let lo = self.xmin != null ? Math.min(self.xmin, mn == null ? self.xmin : mn) : mn;
          let hi = self.xmax != null ? Math.max(self.xmax, mx == null ? self.xmax : mx) : mx;
          if (lo == null || hi == null) {
            if (o.xTime === false) return [0, 1];
            hi = Date.now() / 1000; // no data yet: the last minute, not 1970
            lo = hi - 60;
          }
          // live-only charts grow from the right over their first minute
          if (o.autoX && hi - lo < 60) lo = hi - 60;
          if (hi <= lo) return o.xTime === false ? [Math.min(0, lo), hi + 1] : [lo - 1, hi + 1];
          return [lo, hi];
        }),
      },
      y: { range: yRange(() => o.yMin, () => o.yMax) },
    };
    if (o.axes2) scales[o.axes2.scale] = { range: yRange(() => o.axes2.yMin, () => o.axes2.yMax) };
    for (const s of o.series) if (s.scale && !scales[s.scale]) scales[s.scale] = { range: yRange(() => null, () => null) };
    const base = {
      stroke: () => TH.axis,
      font: FONT,
      grid: { stroke: () => TH.grid, width: 1 },
      ticks: { stroke: () => TH.grid, width: 1, size: 4 },
    };
    const axes = [
      Object.assign({}, base, o.xTime === false ? { values: (u, vs) => vs.map(o.xFmt || fmtNum), incrs: STEP_INCRS } : { values: timeTicks, space: 64 }),
      Object.assign({}, base, {
        values: o.yValues || ((u, vs) => vs.map(fmt)),
        size: axisSize,
      }, o.ySplits ? { splits: o.ySplits } : {}),
    ];
    if (o.axes2) {
      axes.push(
        Object.assign({}, base, {
          scale: o.axes2.scale,
          side: 1,
          grid: { show: false },
          values: (u, vs) => vs.map(o.axes2.fmt || fmt),
          size: axisSize,
        })
      );
    }
    const opts = {
      width: Math.max(40, Math.floor(this.el.clientWidth) || 300),
      height: this.height,
      series,
      scales,
      axes,
      hooks: {
        draw: [
          () => {
            if (TW.firstChartMs == null && this.points() > 0) TW.firstChartMs = performance.now();
          },
        ],
      },
    };
    if (o.spark) {
      opts.legend = { show: false };
      opts.cursor = { show: false };
      opts.select = { show: false };
      opts.axes = [{ show: false }, { show: false }];
      opts.padding = [3, 1, 2, 1];
    } else {
      opts.legend = { live: true };
      opts.cursor = { drag: { x: false, y: false } };
      opts.padding = [10, o.axes2 ? 4 : 14, 0, 4];
    }
    return opts;
  }

  // points: non-null y values across the shown series.
  points() {
    const d = this.u.data;
    if (!d) return 0;
    let n = 0;
    for (let i = 1; i < d.length; i++) {
      if (this.u.series[i] && this.u.series[i].show === false) continue;
      for (const v of d[i]) if (v != null) n++;
    }
    return n;
  }

  fit() {
    if (!this.u) return;
    const w = Math.floor(this.el.clientWidth);
    if (w > 0 && Math.abs(w - this.u.width) > 1) this.u.setSize({ width: w, height: this.height });
  }

  setData(d) {
    this.data = d;
    this.dirty = true;
    this.flush();
  }

  // seed puts history before the live points appended so far.
  seed(sd) {
    const live = this.data;
    const first = live[0].length ? live[0][0] : Infinity;
    let n = 0;
    while (n < sd[0].length && sd[0][n] < first) n++;
    this.data = sd.map((a, i) => a.slice(0, n).concat(live[i] || []));
    if (this.data[0].length > this.max) thin(this.data, this.max);
    this.dirty = true;
    this.flush();
  }

  // append adds one live point [t, v1, v2…]; older points beyond the
  // window are dropped and the ring is thinned beyond max points.
  append(t, vals) {
    const d = this.data;
    const xs = d[0];
    if (!Number.isFinite(t) || (xs.length && t <= xs[xs.length - 1])) return;
    xs.push(t);
    for (let i = 1; i < d.length; i++) {
      const v = num(vals[i - 1]);
      d[i].push(Number.isFinite(v) ? v : null);
    }
    if (this.win) {
      const lo = t - this.win;
      if (!this.o.autoX) {
        this.xmax = t;
        this.xmin = lo;
      }
      let k = 0;
      while (k < xs.length - 1 && xs[k] < lo) k++;
      if (k) for (const a of d) a.splice(0, k);
    } else if (this.xmax != null && t > this.xmax) {
      this.xmax = t;
    }
    if (xs.length > this.max) thin(d, this.max);
    this.dirty = true;
    if (!document.hidden) this.flush();
  }

  flush() {
    if (!this.dirty || !this.u || document.hidden) return;
    this.dirty = false;
    this.u.setData(this.data);
    this.single();
  }

  // single: uPlot gives a lone point a day-wide x scale without asking
  // the range function; set the scale it would have chosen.
  single() {
    const xs = this.data[0];
    if (xs.length !== 1) return;
    const [min, max] = this.xRange(this.u, xs[0], xs[0]);
    this.u.setScale("x", { min, max });
  }

  destroy() {
    if (ro) ro.unobserve(this.el);
    pending.delete(this);
    all.delete(this);
    const i = TW.charts.indexOf(this.entry);
    if (i >= 0) TW.charts.splice(i, 1);
    this.u.destroy();
    this.u = null;
  }
}

// chartCard is a titled card with a body for a chart or a message.
export function chartCard(title, extra) {
  const body = h("div", { class: "chart-body" }, h("div", { class: "msg muted loading" }, "Loading…"));
  const box = h("section", { class: "card chart-card" }, h("div", { class: "card-head" }, h("h2", null, title), extra), body);
  return { box, body };
}

// empty shows an explicit message where a chart would be.
export function empty(body, textv, cls) {
  set(body, h("div", { class: "msg empty " + (cls || "") }, textv));
}

// draw replaces body's content with a chart of data (or a "no data"
// message when no series has a value).
export function draw(ctx, body, o, what) {
  const has = o.data && o.data.slice(1).some((ys) => ys.some((v) => v != null));
  if (!has && !o.keepEmpty) {
    empty(body, "No data for " + what + " in this range");
    return null;
  }
  set(body);
  const el = h("div");
  body.append(el);
  return new Chart(ctx, el, o);
}
