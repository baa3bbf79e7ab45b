// Shared state, DOM helpers, formatting and API access for the dashboard.

// Test hooks (see the README of internal/ui): every chart, the first drawn
// chart's time, the snapshots received and the current page.
export const TW = (window.trainwatch = {
  charts: [],
  firstChartMs: null,
  snapshots: 0,
  page: "overview",
  ready: false,
});

// S is the application state shared by all pages.
export const S = {
  config: null, // api/ui/config
  instance: "", // the host whose data is shown (its instance label)
  last: null, // the latest snapshot event {instance, host, runs, alerts}
  range: 900, // picked time range in seconds
};

export const RANGES = [
  ["5m", 300],
  ["15m", 900],
  ["1h", 3600],
  ["6h", 21600],
  ["24h", 86400],
  ["7d", 604800],
  ["15d", 1296000],
];

// h builds an element: h("a", {href, class, onclick}, child, "text", [more]).
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const k in props) {
      const v = props[k];
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "style") el.style.cssText = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (typeof v === "boolean" || k === "value") el[k] = v;
      else el.setAttribute(k, v);
    }
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const c of kids) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// set replaces el's children.
export function set(el, ...kids) {
  el.textContent = "";
  add(el, kids);
  return el;
}

// text sets el's text only when it changed (cheap live updates).
export function text(el, s) {
  s = String(s);
  if (el && el.textContent !== s) el.textContent = s;
}

export function esc(s) {
  return String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function reEsc(s) {
  return String(s).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// num converts a JSON number or "NaN"/"+Inf"/"-Inf" string to a number
// (NaN for anything else).
export function num(v) {
  if (typeof v === "number") return v;
  if (v === "+Inf" || v === "Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  if (v == null || v === "") return NaN;
  return Number(v);
}

export function fin(v) {
  v = num(v);
  return Number.isFinite(v) ? v : null;
}

// ---- formatting ----

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function fmtBytes(b) {
  b = num(b);
  if (!Number.isFinite(b)) return "–";
  let i = 0,
    v = Math.abs(b);
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const d = i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return (b < 0 ? "-" : "") + v.toFixed(d) + " " + UNITS[i];
}

export const fmtRate = (b) => (Number.isFinite(num(b)) ? fmtBytes(b) + "/s" : "–");

export function fmtPct(v) {
  v = num(v);
  if (!Number.isFinite(v)) return "–";
  return (Math.abs(v) < 10 && v !== 0 ? v.toFixed(1) : v.toFixed(0)) + "%";
}

// fmtNum: 3 significant digits with k/M/G suffixes for large values.
export function fmtNum(v, unit = "") {
  if (typeof v === "string" && !Number.isFinite(num(v))) return v;
  v = num(v);
  if (Number.isNaN(v)) return "–";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const a = Math.abs(v);
  let s;
  if (a >= 1e12) s = (v / 1e12).toPrecision(3) + "T";
  else if (a >= 1e9) s = (v / 1e9).toPrecision(3) + "G";
  else if (a >= 1e6) s = (v / 1e6).toPrecision(3) + "M";
  else if (a >= 1e4) s = (v / 1e3).toPrecision(3) + "k";
  else if (a >= 100 || Number.isInteger(v)) s = String(Math.round(v));
  else if (a >= 0.01) s = String(Number(v.toPrecision(3)));
  else if (a === 0) s = "0";
  else s = v.toExponential(2);
  return unit ? s + " " + unit : s;
}

// fmtVal: a metric value with enough precision to tell a loss apart.
export function fmtVal(v) {
  if (typeof v === "string" && !Number.isFinite(num(v))) return v;
  v = num(v);
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

// fmtAxis: short tick labels (0.0005, 1.5k, 2e-6).
export function fmtAxis(v) {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a < 1e-4 || a >= 1e4) return fmtNum(v);
  return String(Number(v.toPrecision(4)));
}

export function fmtDur(s) {
  s = num(s);
  if (!Number.isFinite(s) || s < 0) return "–";
  s = Math.round(s);
  if (s < 60) return s + "s";
  const d = Math.floor(s / 86400),
    hh = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = s % 60;
  if (d) return d + "d " + hh + "h";
  if (hh) return hh + "h " + m + "m";
  return m + "m " + sec + "s";
}

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (isNaN(d)) return "–";
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

export function fmtDateTime(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (isNaN(d)) return "–";
  const today = new Date();
  const day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  const sameDay = d.toDateString() === today.toDateString();
  return (sameDay ? "" : day + " ") + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
}

export function fmtAgo(t) {
  const d = t instanceof Date ? t : new Date(t);
  if (isNaN(d)) return "–";
  return fmtDur((Date.now() - d.getTime()) / 1000) + " ago";
}

export const tsec = (t) => Date.parse(t) / 1000;

// ---- API ----

export class APIError extends Error {
  constructor(msg, status) {
    super(msg);
    this.status = status;
  }
}

export async function getJSON(url, signal) {
  return readJSON(await fetch(url, { signal, headers: { Accept: "application/json" } }));
}

// readJSON decodes a response, throwing the API's "error" text when it
// failed.
export async function readJSON(r) {
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    if (e.name === "AbortError") throw e;
  }
  if (!r.ok || (body && body.status === "error")) {
    throw new APIError((body && body.error) || r.status + " " + r.statusText, r.status);
  }
  return body;
}

export const isAbort = (e) => e && (e.name === "AbortError" || (e instanceof DOMException && e.code === 20));

// remote is true when a fleet host other than this agent is shown.
export function remote() {
  return !!(S.config && S.config.fleet && S.config.fleet.enabled && S.instance && S.instance !== S.config.instance);
}

export function promBase() {
  return remote() ? "api/ui/fleet/api/v1/" : "api/v1/";
}

// I is the instance matcher every history query carries.
export function I() {
  return S.instance ? 'instance="' + esc(S.instance) + '"' : 'instance!=""';
}

// sel builds NAME{instance="…",extra}.
export function sel(name, extra) {
  return name + "{" + I() + (extra ? "," + extra : "") + "}";
}

export async function promRange(expr, start, end, step, signal) {
  const p = new URLSearchParams({ query: expr, start: start.toFixed(3), end: end.toFixed(3), step: String(step) });
  const b = await getJSON(promBase() + "query_range?" + p, signal);
  return b.data.result || [];
}

export async function promQuery(expr, time, signal) {
  const p = new URLSearchParams({ query: expr });
  if (time != null) p.set("time", time.toFixed(3));
  const b = await getJSON(promBase() + "query?" + p, signal);
  return b.data;
}

export function interval() {
  return (S.config && S.config.interval_seconds) || 1;
}

// stepFor: a query step (whole seconds) giving about n points over range.
export function stepFor(range, n) {
  return Math.max(Math.ceil(interval()), Math.ceil(range / n));
}

// align turns Prometheus matrix results into uPlot data [xs, ys…], each
// series' values placed at their timestamps (null elsewhere).
export function align(results, mapY) {
  const ts = new Set();
  for (const r of results) for (const p of r.values) ts.add(p[0]);
  const xs = Array.from(ts).sort((a, b) => a - b);
  const at = new Map(xs.map((t, i) => [t, i]));
  const out = [xs];
  results.forEach((r, k) => {
    const ys = new Array(xs.length).fill(null);
    for (const [t, v] of r.values) {
      let y = fin(v);
      if (y != null && mapY) y = mapY(y, k);
      ys[at.get(t)] = y;
    }
    out.push(ys);
  });
  return out;
}

export function history() {
  return !!(S.config && S.config.history);
}

export const HISTORY_OFF = "History is off (--no-history)";

// ---- small widgets ----

export function bar(pct, cls) {
  const p = Math.max(0, Math.min(100, num(pct) || 0));
  const b = h("div", { class: "bar " + (cls || "") });
  const f = h("div", { class: "bar-fill " + level(p) });
  f.style.width = p + "%";
  b.append(f);
  return b;
}

export function setBar(b, pct) {
  const p = Math.max(0, Math.min(100, num(pct) || 0));
  const f = b.firstChild;
  f.style.width = p + "%";
  f.className = "bar-fill " + (b.classList.contains("prog") ? "prog" : level(p));
}

// progress is a bar for completion (not a level: full is good).
export function progress(pct, cls) {
  const b = h("div", { class: "bar prog " + (cls || "") }, h("div", { class: "bar-fill prog" }));
  setBar(b, pct);
  return b;
}

export function level(p) {
  return p >= 90 ? "bad" : p >= 75 ? "warn" : "ok";
}

export function badge(textv, cls, title) {
  return h("span", { class: "badge " + (cls || ""), title }, textv);
}

export function statusBadge(status) {
  const cls =
    { running: "ok", finished: "info", failed: "bad", stalled: "warn", firing: "bad", pending: "warn" }[status] || "";
  return badge(status || "unknown", cls);
}

export function msg(textv, cls) {
  return h("div", { class: "msg " + (cls || "") }, textv);
}

export function card(title, ...kids) {
  return h("section", { class: "card" }, title ? h("h2", null, title) : null, ...kids);
}

export function runHref(id) {
  return "#/runs/" + encodeURIComponent(id);
}

export function runProgress(r) {
  if (r.progress != null && Number.isFinite(num(r.progress))) return num(r.progress) * 100;
  if (r.total_steps > 0) return (100 * r.step) / r.total_steps;
  return null;
}

export function lastLoss(r) {
  const m = r.metrics || {};
  return m.training_loss != null ? m.training_loss : m.loss;
}

export function errText(e) {
  return e && e.message ? e.message : String(e);
}
