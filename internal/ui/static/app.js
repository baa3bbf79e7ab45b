// trainwatch dashboard: header, hash router, the one live event stream.
import { TW, S, RANGES, h, set, text, getJSON, readJSON, fmtTime, isAbort, errText, remote } from "./js/core.js";
import { readTheme, redrawAll } from "./js/charts.js";
import { overview } from "./js/overview.js";
import { gpuPage } from "./js/gpu.js";
import { processes } from "./js/processes.js";
import { runsPage, runPage, comparePage } from "./js/runs.js";
import { alertsPage } from "./js/alerts.js";
import { queryPage } from "./js/query.js";

const main = document.getElementById("page");
const $ = (id) => document.getElementById(id);
const store = {
  get(k) {
    try {
      return localStorage.getItem("trainwatch." + k);
    } catch (e) {
      return null;
    }
  },
  set(k, v) {
    try {
      localStorage.setItem("trainwatch." + k, v);
    } catch (e) {
      /* private mode */
    }
  },
};

window.addEventListener("unhandledrejection", (e) => {
  if (isAbort(e.reason)) e.preventDefault();
});

// ---- page context ----

class Ctx {
  constructor(name) {
    this.name = name;
    this.root = main;
    this.ac = new AbortController();
    this.signal = this.ac.signal;
    this.timers = [];
    this.charts = [];
    this.dead = false;
  }
  // every runs fn each ms while the page is shown and the tab visible.
  every(ms, fn) {
    this.timers.push(
      setInterval(() => {
        if (!this.dead && !document.hidden) fn();
      }, ms)
    );
  }
  ready() {
    if (this.dead || main.dataset.ready === "1") return;
    main.dataset.ready = "1";
    TW.ready = true;
  }
  flush() {
    for (const c of this.charts) c.flush();
  }
  // guard runs an async task, ignoring aborts after the page is left.
  guard(p, onErr) {
    return Promise.resolve(p).catch((e) => {
      if (this.dead || isAbort(e)) return;
      if (onErr) onErr(e);
    });
  }
  destroy() {
    this.dead = true;
    this.ac.abort();
    this.timers.forEach(clearInterval);
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }
}

// ---- router ----

let ctx = null;
let page = null;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const qi = raw.indexOf("?");
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const q = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : "");
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (e) {
        return p;
      }
    });
  return { path, parts, q };
}

// setQuery changes one parameter of the hash's query (re-rendering).
function setQuery(k, v) {
  const { path, q } = parseHash();
  q.set(k, v);
  location.hash = "#/" + (path || "overview") + "?" + q.toString();
}

function allowedRanges() {
  const ret = S.config && S.config.retention_seconds;
  const rs = RANGES.filter(([, s]) => !(ret > 0) || s <= ret * 1.001);
  return rs.length ? rs : [RANGES[0]];
}

function pickRange(q) {
  const ok = allowedRanges();
  const byName = (n) => ok.find(([l]) => l === n);
  let r = byName(q.get("range"));
  if (r) store.set("range", r[0]);
  else r = byName(store.get("range")) || byName("15m") || ok[ok.length - 1];
  S.range = r[1];
  $("range").value = r[0];
}

const PAGES = {
  overview: (c) => overview(c),
  gpu: (c, p) => gpuPage(c, p),
  processes: (c) => processes(c),
  runs: (c) => runsPage(c),
  run: (c, p) => runPage(c, p),
  compare: (c, p) => comparePage(c, p),
  alerts: (c) => alertsPage(c),
  query: (c, p) => queryPage(c, p),
};

function render() {
  if (!S.config) return;
  const { parts, q } = parseHash();
  pickRange(q);
  const hq = q.get("host");
  if (hq && S.config.fleet && S.config.fleet.enabled && hq !== S.instance) {
    switchHost(hq, false);
  }
  let name = parts[0] || "overview";
  const params = { q };
  if (name === "gpu") params.idx = parts[1] || "0";
  else if (name === "runs" && parts[1]) {
    name = "run";
    params.id = parts[1];
  } else if (name === "compare") {
    params.a = parts[1] || "";
    params.b = parts[2] || "";
  }
  if (ctx) ctx.destroy();
  set(main);
  delete main.dataset.ready;
  TW.ready = false;
  const known = PAGES[name];
  if (!known) name = "notfound";
  main.dataset.page = name;
  TW.page = name;
  for (const a of document.querySelectorAll("#nav a")) {
    const n = a.dataset.nav;
    a.classList.toggle("active", n === name || (n === "runs" && (name === "run" || name === "compare")) || (n === "overview" && name === "gpu"));
  }
  document.title = name.charAt(0).toUpperCase() + name.slice(1) + " · trainwatch" + (hostName() ? " · " + hostName() : "");
  ctx = new Ctx(name);
  if (!known) {
    main.append(h("div", { class: "msg" }, "There is no page “" + location.hash + "”. ", h("a", { href: "#/overview" }, "Go to the overview")));
    ctx.ready();
    page = {};
    return;
  }
  try {
    page = known(ctx, params) || {};
    if (S.last && page.update) page.update(S.last, true);
  } catch (e) {
    page = {};
    main.append(h("div", { class: "msg error" }, "This page failed to render: " + errText(e)));
  }
}

// ---- live stream ----

let es = null;
let retryTimer = 0;

function hostName() {
  return (S.last && S.last.host && S.last.host.hostname) || (S.config && S.config.hostname) || "";
}

function setLive(state, label) {
  $("live").dataset.state = state;
  text($("live-text"), label);
}

function connect() {
  clearTimeout(retryTimer);
  if (es) es.close();
  const url = "api/ui/events" + (remote() ? "?instance=" + encodeURIComponent(S.instance) : "");
  const src = new EventSource(url);
  es = src;
  setLive("connecting", "connecting…");
  src.addEventListener("open", () => {
    if (es === src) setLive("live", "connected");
  });
  src.addEventListener("snapshot", (ev) => {
    if (es !== src) return;
    let d;
    try {
      d = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    onSnapshot(d);
  });
  src.addEventListener("problem", (ev) => {
    if (es !== src) return;
    let m = ev.data;
    try {
      m = JSON.parse(ev.data).error || m;
    } catch (e) {
      /* plain text */
    }
    S.problem = m;
    renderBanners();
    if (!S.last) for (const el of main.querySelectorAll(".waiting")) el.textContent = "No data from " + S.instance + ": " + m;
  });
  src.addEventListener("error", () => {
    if (es !== src) return;
    setLive("down", "disconnected — retrying");
    if (src.readyState === EventSource.CLOSED) retryTimer = setTimeout(connect, 3000);
  });
}

function onSnapshot(d) {
  TW.snapshots++;
  d.runs = d.runs || [];
  d.alerts = d.alerts || [];
  S.last = d;
  S.problem = "";
  const t = d.host && d.host.time ? new Date(d.host.time) : new Date();
  setLive("live", "live · " + fmtTime(t));
  renderBanners();
  const firing = d.alerts.filter((a) => a.state === "firing").length;
  const ac = $("alert-count");
  ac.hidden = !d.alerts.length;
  ac.className = "count " + (firing ? "bad" : "warn");
  text(ac, firing || d.alerts.length);
  text($("hostname"), hostName());
  if (page && page.update) {
    try {
      page.update(d, !document.hidden);
    } catch (e) {
      // keep the stream alive; the page shows what it can
      showPageError(e);
    }
  }
}

function showPageError(e) {
  if (!main.querySelector(".page-error")) main.prepend(h("div", { class: "msg error page-error" }, "Rendering failed: " + errText(e)));
}

// ---- banners ----

let lastBanner = "";

function renderBanners() {
  const host = S.last && S.last.host;
  const demo = (host && host.demo) || (S.config && S.config.demo);
  const scen = (host && host.demo_scenario) || (S.config && S.config.demo_scenario) || "simulated GPUs";
  const dm = $("demo");
  dm.hidden = !demo;
  if (demo) text(dm, "DEMO — " + scen + ": GPU data is simulated, not measured. Host metrics are real.");
  const lines = [];
  if (S.problem) lines.push(["bad", "Cannot read this host: " + S.problem]);
  if (host) {
    const backs = host.gpu_backends || [];
    if (!backs.some((b) => b.up)) {
      const gc = (host.collectors || []).find((c) => c.name === "gpu");
      lines.push([
        "bad",
        "No GPU backend is working" +
          (backs.length ? " (" + backs.map((b) => b.backend + ": " + (b.up ? "up" : "down")).join(", ") + ")" : " (none found)") +
          (gc && gc.error ? ". gpu collector: " + gc.error : ""),
      ]);
    }
    const absent = [];
    for (const c of host.collectors || []) {
      if (c.success !== false) continue;
      if (c.no_data) absent.push(c);
      else lines.push(["warn", "Collector " + c.name + " is failing: " + (c.error || "no error text")]);
    }
    // Sources this machine does not have (no sensors in a VM, no AMD GPU)
    // are not faults: one quiet line, the reasons folded below it.
    for (const c of absent) lines.push(["info", "Not available on this machine: " + c.name + " (" + c.error + ")"]);
  }
  const key = JSON.stringify(lines);
  if (key === lastBanner) return;
  lastBanner = key;
  const pb = $("problems");
  pb.hidden = !lines.length;
  const item = ([cls, s]) => h("li", { class: cls }, s);
  const faults = lines.filter(([cls]) => cls !== "info");
  const info = lines.filter(([cls]) => cls === "info");
  pb.classList.toggle("quiet", faults.length === 0);
  const shown = faults.slice(0, 2);
  const rest = faults.slice(2);
  set(
    pb,
    shown.length ? h("ul", null, shown.map(item)) : null,
    rest.length ? h("details", null, h("summary", null, rest.length + " more"), h("ul", null, rest.map(item))) : null,
    info.length
      ? h("details", null, h("summary", null, info.length + (info.length === 1 ? " source" : " sources") + " not available on this machine"), h("ul", null, info.map(item)))
      : null
  );
}

// ---- header controls ----

function applyTheme(t) {
  if (t) document.documentElement.dataset.theme = t;
  const dark = currentTheme() === "dark";
  $("theme").textContent = dark ? "☀" : "☾";
  $("theme").title = dark ? "Switch to the light theme" : "Switch to the dark theme";
}

function currentTheme() {
  const t = document.documentElement.dataset.theme;
  if (t) return t;
  return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function setupHeader() {
  const rsel = $("range");
  set(rsel, allowedRanges().map(([l]) => h("option", { value: l }, l)));
  rsel.addEventListener("change", () => {
    store.set("range", rsel.value);
    setQuery("range", rsel.value);
  });
  $("theme").addEventListener("click", () => {
    const t = currentTheme() === "dark" ? "light" : "dark";
    store.set("theme", t);
    applyTheme(t);
    redrawAll();
  });
  if (window.matchMedia) {
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    const onChange = () => {
      if (!document.documentElement.dataset.theme) {
        applyTheme();
        redrawAll();
      }
    };
    if (mq.addEventListener) mq.addEventListener("change", onChange);
  }
  applyTheme();
  text($("hostname"), hostName());
  const c = S.config;
  text($("footer"), "trainwatch " + (c.version || "") + " · instance " + (c.instance || "?") + (c.history ? "" : " · history off"));
  if (c.fleet && c.fleet.enabled) setupFleet();
}

async function setupFleet() {
  const wrap = $("host-wrap");
  const sel = $("host-picker");
  wrap.hidden = false;
  const fill = (hosts) => {
    const seen = new Set();
    const opts = [];
    const addOpt = (inst, label) => {
      if (!inst || seen.has(inst)) return;
      seen.add(inst);
      opts.push(h("option", { value: inst }, label));
    };
    addOpt(S.config.instance, S.config.instance + " (this agent)");
    for (const x of hosts) addOpt(x.instance, x.instance + (x.up ? "" : " (down)"));
    addOpt(S.instance, S.instance);
    set(sel, opts);
    sel.value = S.instance;
  };
  fill([]);
  sel.addEventListener("change", () => setQuery("host", sel.value));
  try {
    const r = await getJSON("api/ui/fleet/hosts");
    fill(r.hosts || []);
  } catch (e) {
    S.problem = "fleet host list: " + errText(e);
    renderBanners();
  }
}

function switchHost(inst, rerender) {
  S.instance = inst;
  store.set("host", inst);
  S.last = null;
  const sel = $("host-picker");
  if (![...sel.options].some((o) => o.value === inst)) sel.append(h("option", { value: inst }, inst));
  sel.value = inst;
  connect();
  if (rerender) render();
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && page && page.update && S.last) {
    try {
      page.update(S.last, true);
    } catch (e) {
      showPageError(e);
    }
    if (ctx) ctx.flush();
  }
});

// ---- boot ----

async function boot() {
  readTheme();
  applyTheme();
  let early = window.__twConfig; // started by js/boot.js
  window.__twConfig = null;
  for (;;) {
    try {
      S.config = early ? await readJSON(await early) : await getJSON("api/ui/config");
      break;
    } catch (e) {
      early = null;
      set(main, h("div", { class: "msg error" }, "Cannot load the dashboard configuration (api/ui/config): " + errText(e) + ". Retrying…"));
      setLive("down", "disconnected — retrying");
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  S.instance = S.config.instance || "";
  if (S.config.fleet && S.config.fleet.enabled) {
    const h0 = parseHash().q.get("host") || store.get("host");
    if (h0) S.instance = h0;
  }
  setupHeader();
  render();
  connect();
  window.addEventListener("hashchange", render);
}

boot();
