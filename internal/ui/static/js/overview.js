// Overview: GPU cards with sparklines, CPU, memory, storage, network,
// temperatures, active runs and alerts. History is queried once (two
// query_range calls); everything after that is appended from the stream.
import {
  S, h, set, text, fmtBytes, fmtRate, fmtPct, fmtNum, fmtDur, fmtVal, fmtAgo, num, fin, tsec, sel, I,
  promRange, stepFor, interval, history, HISTORY_OFF, bar, setBar, progress, badge, statusBadge, msg, runHref,
  runProgress, lastLoss, errText, reEsc, card, align,
} from "./core.js";
import { Chart } from "./charts.js";

const MHz = (v) => fmtNum(v) + " MHz";
const W = (v) => fmtNum(v) + " W";
const C = (v) => fmtNum(v) + " °C";

// GPU card rows: key, label, history metric, snapshot value, format, scale.
export const GPU_ROWS = [
  ["util", "Utilisation", "DCGM_FI_DEV_GPU_UTIL", (g) => g.utilization_percent, fmtPct, 1, 0, 100],
  ["mem", "Memory", "DCGM_FI_DEV_FB_USED", (g) => g.memory_used_bytes, fmtBytes, 1048576, 0, null],
  ["temp", "Temperature", "DCGM_FI_DEV_GPU_TEMP", (g) => g.temperature_celsius, C, 1, null, null],
  ["power", "Power", "DCGM_FI_DEV_POWER_USAGE", (g) => g.power_watts, W, 1, 0, null],
  ["sm", "SM clock", "DCGM_FI_DEV_SM_CLOCK", (g) => (g.sm_clock_hertz != null ? g.sm_clock_hertz / 1e6 : null), MHz, 1, null, null],
  ["memclk", "Mem clock", "DCGM_FI_DEV_MEM_CLOCK", (g) => (g.memory_clock_hertz != null ? g.memory_clock_hertz / 1e6 : null), MHz, 1, null, null],
];

export function gpuBadges(g) {
  const out = [];
  for (const r of g.throttle_reasons || []) out.push(badge(r.replace(/_/g, " "), "warn", "Clock throttle reason: " + r));
  const x = num(g.xid_events_total);
  if (x > 0) {
    const codes = Object.keys(g.xids || {});
    out.push(badge("XID ×" + x, "bad", "XID events: " + codes.map((c) => c + " (" + g.xids[c] + "×)").join(", ")));
  }
  return out;
}

export function noGPUPanel(host) {
  const backs = host.gpu_backends || [];
  const gc = (host.collectors || []).find((c) => c.name === "gpu");
  const working = backs.some((b) => b.up);
  return h(
    "section",
    { class: "card no-gpu" },
    h("h2", null, working ? "No GPUs found" : "No GPU backend is working"),
    backs.length
      ? h("ul", null, backs.map((b) => h("li", null, b.backend + ": ", b.up ? badge("up", "ok") : badge("down", "bad"))))
      : h("p", null, "No GPU backend reported in."),
    gc && gc.error ? h("p", { class: "err-text" }, "gpu collector: " + gc.error) : null,
    working ? h("p", { class: "muted" }, "The backend works but lists no GPU on this host.") : null
  );
}

export function overview(ctx) {
  const root = ctx.root;
  const range = S.range;
  const hist = history();

  // ---- skeleton ----
  const gpuSec = h("section", { class: "gpu-grid" }, msg("Waiting for the first snapshot…", "muted waiting"));
  const cpuVal = h("span", { class: "big", "data-live": "cpu-busy" }, "–");
  const cpuSub = h("div", { class: "sub" });
  const cpuChartEl = h("div");
  const cpuNote = h("div", { class: "note" });
  const cores = h("div", { class: "cores" });
  const memVal = h("span", { class: "big-sm", "data-live": "mem-used" }, "–");
  const memBar = bar(0);
  const memTxt = h("span", { class: "bar-label" });
  const swapBar = bar(0);
  const swapTxt = h("span", { class: "bar-label" });
  const memSub = h("div", { class: "sub" });
  const memChartEl = h("div");
  const memNote = h("div", { class: "note" });
  const fsBody = h("div", { class: "fs-list" });
  const diskBody = h("div");
  const netBody = h("div");
  const tempBody = h("div");
  const runsBody = h("div", { class: "runs-list" });
  const alertsBody = h("div");

  const cpuCard = h(
    "section",
    { class: "card" },
    h("div", { class: "card-head" }, h("h2", null, "CPU"), cpuVal),
    cpuSub,
    cpuNote,
    cpuChartEl,
    cores
  );
  const memCard = h(
    "section",
    { class: "card" },
    h("div", { class: "card-head" }, h("h2", null, "Memory"), memVal),
    h("div", { class: "bar-row" }, h("span", { class: "k" }, "RAM"), memBar, memTxt),
    h("div", { class: "bar-row" }, h("span", { class: "k" }, "Swap"), swapBar, swapTxt),
    memSub,
    memNote,
    memChartEl
  );
  const runsLink = h("a", { href: "#/runs", class: "head-link" }, "All runs →");
  const alertsLink = h("a", { href: "#/alerts", class: "head-link" }, "Alerts →");
  root.append(
    gpuSec,
    h(
      "div",
      { class: "host-grid" },
      cpuCard,
      memCard,
      card("Filesystems", fsBody, h("h2", { class: "h2-gap" }, "Disks"), diskBody),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", null, "Active runs"), runsLink), runsBody),
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", null, "Active alerts"), alertsLink), alertsBody),
      card("Network", netBody, h("h2", { class: "h2-gap" }, "Temperatures"), tempBody)
    )
  );

  // ---- charts ----
  const bigStep = stepFor(range, 600);
  const sparkStep = stepFor(range, 150);
  const now = Date.now() / 1000;
  let cpuChart = null;
  let memChart = null;
  if (!hist) {
    text(cpuNote, HISTORY_OFF + " — showing live values since this page opened.");
    text(memNote, HISTORY_OFF + " — showing live values since this page opened.");
  }

  // GPU sparkline seeds: seeds[gpu][key] = [xs, ys]
  const seeds = {};
  const cards = new Map(); // index -> {el, charts, vals, badges, up}
  let gpuKey = "";

  if (hist) {
    const names = GPU_ROWS.map((r) => r[2]).join("|");
    ctx.guard(
      promRange('{__name__=~"' + names + '",' + I() + "}", now - range, now, sparkStep, ctx.signal).then((res) => {
        for (const r of res) {
          const row = GPU_ROWS.find((x) => x[2] === r.metric.__name__);
          const g = r.metric.gpu;
          if (!row || g == null) continue;
          const xs = [],
            ys = [];
          for (const [t, v] of r.values) {
            xs.push(t);
            const y = fin(v);
            ys.push(y == null ? null : y * row[5]);
          }
          (seeds[g] = seeds[g] || {})[row[0]] = [xs, ys];
        }
        for (const [idx, c] of cards) {
          for (const [k, ch] of Object.entries(c.charts)) {
            const sd = seeds[idx] && seeds[idx][k];
            if (sd) ch.seed(sd);
          }
        }
      }),
      () => {}
    );
    const w = Math.max(bigStep, 4 * Math.ceil(interval())) + "s";
    const cpuExpr =
      'label_replace(100 * (1 - sum(rate(node_cpu_seconds_total{' + I() + ',mode=~"idle|iowait"}[' + w + "])) / sum(rate(" +
      sel("node_cpu_seconds_total") + "[" + w + ']))), "w", "cpu", "", "")';
    const memExpr =
      "label_replace(100 * (1 - " + sel("node_memory_MemAvailable_bytes") + " / " + sel("node_memory_MemTotal_bytes") + '), "w", "mem", "", "")';
    const swapExpr =
      "label_replace(100 * (1 - " + sel("node_memory_SwapFree_bytes") + " / " + sel("node_memory_SwapTotal_bytes") + ") and " +
      sel("node_memory_SwapTotal_bytes") + ' > 0, "w", "swap", "", "")';
    ctx.guard(
      promRange(cpuExpr + " or " + memExpr + " or " + swapExpr, now - range, now, bigStep, ctx.signal).then((res) => {
        const get = (w) => res.find((r) => r.metric.w === w);
        const toData = (rs) => align(rs.map((r) => r || { values: [] }));
        const c = get("cpu");
        if (c) cpuChart.seed(toData([c]));
        else if (!cpuChart.points()) text(cpuNote, "No CPU history in this range yet.");
        const m = get("mem");
        if (m) memChart.seed(toData([m, get("swap")]));
      }),
      (e) => {
        text(cpuNote, "History query failed: " + errText(e));
        text(memNote, "History query failed: " + errText(e));
      }
    );
  }

  // Charts are created after the queries are sent, so that the
  // network and the first uPlot set-up overlap.
  cpuChart = new Chart(ctx, cpuChartEl, {
    id: "cpu",
    series: [{ label: "Busy", fill: true }],
    fmt: fmtPct,
    yMin: 0,
    yMax: 100,
    win: range,
    xmin: hist ? now - range : undefined,
    xmax: hist ? now : undefined,
    autoX: !hist,
    height: 150,
    max: 1800,
  });
  memChart = new Chart(ctx, memChartEl, {
    id: "mem",
    series: [{ label: "Memory used", fill: true }, { label: "Swap used", color: "#f59e0b" }],
    fmt: fmtPct,
    yMin: 0,
    yMax: 100,
    win: range,
    xmin: hist ? now - range : undefined,
    xmax: hist ? now : undefined,
    autoX: !hist,
    height: 150,
    max: 1800,
  });
  // ---- GPU cards ----
  function destroyCards() {
    for (const c of cards.values()) for (const ch of Object.values(c.charts)) dropChart(ch);
    cards.clear();
  }
  function dropChart(ch) {
    ch.destroy();
    const i = ctx.charts.indexOf(ch);
    if (i >= 0) ctx.charts.splice(i, 1);
  }

  function buildGPUs(host) {
    destroyCards();
    const gpus = host.gpus || [];
    if (!gpus.length) {
      set(gpuSec, noGPUPanel(host));
      return;
    }
    set(gpuSec);
    sparkQueue.length = 0;
    for (const g of gpus) {
      const idx = String(g.index);
      const href = "#/gpu/" + encodeURIComponent(idx);
      if (g.up === false) {
        const el = h(
          "a",
          { class: "card gpu-card lost", href },
          h("div", { class: "gpu-head" }, h("span", { class: "gpu-title" }, "GPU " + idx), badge("lost", "bad")),
          h("div", { class: "lost-text" }, "GPU " + idx + " is lost: the driver no longer answers for it."),
          h("div", { class: "muted small" }, g.uuid || "", g.model_name ? " · " + g.model_name : ""),
          h("div", { class: "gpu-badges" }, gpuBadges(g))
        );
        gpuSec.append(el);
        cards.set(idx, { el, charts: {}, vals: {}, up: false, pending: [] });
        continue;
      }
      const vals = {};
      const rows = [];
      const sparks = {};
      for (const [k, label, , , , , yMin, yMax] of GPU_ROWS) {
        const v = h("span", { class: "v", "data-live": "gpu-" + idx + "-" + k }, "–");
        let vv = v;
        if (k === "power") {
          vals.limit = h("span", { class: "muted" });
          vv = h("span", { class: "v" }, v, vals.limit);
          v.className = "";
        } else if (k === "mem") {
          vals.memTotal = h("span", { class: "muted" });
          vv = h("span", { class: "v" }, v, vals.memTotal);
          v.className = "";
        }
        vals[k] = v;
        const sp = h("div", { class: "spark-wrap" });
        sparks[k] = [sp, yMin, yMax];
        rows.push(h("div", { class: "gpu-row" }, h("span", { class: "k" }, label), vv, sp));
      }
      const badges = h("div", { class: "gpu-badges" });
      const el = h(
        "a",
        { class: "card gpu-card", href, title: "Open GPU " + idx },
        h(
          "div",
          { class: "gpu-head" },
          h("span", { class: "gpu-title" }, "GPU " + idx),
          h("span", { class: "gpu-model" }, (g.model_name || "").replace(/^NVIDIA /, "")),
          g.pstate != null ? h("span", { class: "pstate", title: "Performance state" }, "P" + g.pstate) : null
        ),
        badges,
        h("div", { class: "gpu-rows" }, rows)
      );
      gpuSec.append(el);
      const charts = {};
      const pending = []; // live points that arrive before the sparklines exist
      const c = { el, charts, vals, badges, up: true, badgeKey: "", pending };
      // Sparklines are set up one card per task, so the first paint and
      // the first chart are not held up by 48 uPlot instances.
      sparkQueue.push(() => {
        const t0 = Date.now() / 1000;
        for (const [k, [sp, yMin, yMax]] of Object.entries(sparks)) {
          const sd = seeds[idx] && seeds[idx][k];
          charts[k] = new Chart(ctx, sp, {
            id: "spark-gpu-" + idx + "-" + k,
            spark: true,
            series: [{ label: k, color: k === "util" ? "#3b82f6" : k === "mem" ? "#8b5cf6" : k === "temp" ? "#ef4444" : k === "power" ? "#f59e0b" : "#10b981" }],
            data: sd ? [sd[0].slice(), sd[1].slice()] : undefined,
            yMin: yMin,
            yMax: k === "mem" ? num(g.memory_total_bytes) || null : k === "power" ? num(g.power_limit_watts) || null : yMax,
            win: range,
            xmin: hist ? t0 - range : undefined,
            xmax: hist ? t0 : undefined,
            autoX: !hist,
            max: 600,
          });
        }
        for (const [t, vs] of pending) for (const k in vs) charts[k].append(t, [vs[k]]);
        pending.length = 0;
      });
      cards.set(idx, c);
    }
  }

  const sparkQueue = [];
  let sparkTimer = 0;
  function runQueue() {
    sparkTimer = 0;
    if (ctx.dead) return;
    const job = sparkQueue.shift();
    if (job) job();
    if (sparkQueue.length) sparkTimer = setTimeout(runQueue, 0);
    else if (shown) ctx.ready();
  }
  let shown = false;

  function updateGPUs(host, t, render) {
    const gpus = host.gpus || [];
    const key = gpus.map((g) => g.index + ":" + (g.up !== false)).join(",") + "|" + (host.gpu_backends || []).map((b) => b.backend + b.up).join(",");
    if (key !== gpuKey) {
      gpuKey = key;
      buildGPUs(host);
    }
    for (const g of gpus) {
      const c = cards.get(String(g.index));
      if (!c || !c.up) continue;
      const vs = {};
      for (const [k, , , get, fmt] of GPU_ROWS) {
        const v = get(g);
        vs[k] = v;
        if (c.charts[k]) c.charts[k].append(t, [v]);
        if (render) text(c.vals[k], v == null ? "–" : fmt(v));
      }
      if (!c.charts.util) c.pending.push([t, vs]);
      if (!render) continue;
      text(c.vals.limit, g.power_limit_watts != null ? " / " + W(g.power_limit_watts) : "");
      text(c.vals.memTotal, g.memory_total_bytes != null ? " / " + fmtBytes(g.memory_total_bytes) : "");
      const bk = JSON.stringify([g.throttle_reasons, g.xid_events_total]);
      if (bk !== c.badgeKey) {
        c.badgeKey = bk;
        set(c.badges, gpuBadges(g));
      }
    }
  }

  // ---- host ----
  let coreKey = "";
  function updateCPU(cpu, t, render) {
    cpuChart.append(t, [cpu.busy_percent]);
    if (!render) return;
    text(cpuVal, fmtPct(cpu.busy_percent));
    const m = cpu.modes_percent || {};
    text(
      cpuSub,
      (cpu.count || 0) + " logical CPUs · load " + [cpu.load1, cpu.load5, cpu.load15].map((v) => fmtNum(v)).join(" / ") +
        (m.user != null ? " · user " + fmtPct(m.user) + " · system " + fmtPct(m.system) + " · iowait " + fmtPct(m.iowait) : "")
    );
    const cs = cpu.cores || [];
    const k = cs.map((c) => c.cpu).join(",");
    if (k !== coreKey) {
      coreKey = k;
      set(cores, cs.map((c) => h("div", { class: "core" }, h("div", { class: "core-fill" }))));
      cores.classList.toggle("many", cs.length > 64);
    }
    cs.forEach((c, i) => {
      const el = cores.children[i];
      const p = Math.max(0, Math.min(100, num(c.busy_percent) || 0));
      el.title = "CPU " + c.cpu + ": " + fmtPct(p);
      const f = el.firstChild;
      f.style.height = p + "%";
      f.className = "core-fill " + (p >= 90 ? "bad" : p >= 75 ? "warn" : "ok");
    });
  }

  function updateMem(m, t, render) {
    memChart.append(t, [m.used_percent, m.swap_total_bytes > 0 ? m.swap_used_percent : null]);
    if (!render) return;
    text(memVal, fmtBytes(m.used_bytes) + " / " + fmtBytes(m.total_bytes));
    setBar(memBar, m.used_percent);
    text(memTxt, fmtPct(m.used_percent));
    if (m.swap_total_bytes > 0) {
      setBar(swapBar, m.swap_used_percent);
      text(swapTxt, fmtBytes(m.swap_used_bytes) + " / " + fmtBytes(m.swap_total_bytes));
    } else {
      setBar(swapBar, 0);
      text(swapTxt, "no swap");
    }
    text(memSub, "available " + fmtBytes(m.available_bytes) + " · cached " + fmtBytes(m.cached_bytes) + (m.buffers_bytes != null ? " · buffers " + fmtBytes(m.buffers_bytes) : ""));
  }

  function updateFS(fss) {
    if (!fss || !fss.length) return set(fsBody, msg("No filesystems reported.", "muted"));
    set(
      fsBody,
      fss.map((f) =>
        h(
          "div",
          { class: "fs" },
          h(
            "div",
            { class: "fs-head" },
            h("span", { class: "mono", title: f.mountpoint }, f.mountpoint),
            h("span", { class: "muted small" }, f.device + " · " + f.fstype),
            f.readonly ? badge("read-only", "") : null
          ),
          f.error
            ? h("div", { class: "err-text" }, f.error)
            : h("div", { class: "bar-row" }, bar(f.used_percent), h("span", { class: "bar-label" }, fmtBytes(f.used_bytes) + " / " + fmtBytes(f.size_bytes) + " · " + fmtBytes(f.avail_bytes) + " free"))
        )
      )
    );
  }

  function table(head, rows, cls, numFrom = 1) {
    return h(
      "div",
      { class: "table-wrap" },
      h("table", { class: "tbl " + (cls || "") }, h("thead", null, h("tr", null, head.map((x, i) => h("th", { class: i >= numFrom ? "num" : "" }, x)))), h("tbody", null, rows))
    );
  }

  function updateDisks(ds) {
    if (!ds || !ds.length) return set(diskBody, msg("No disks reported.", "muted"));
    const lat = (v) => (v == null ? "–" : fmtNum(num(v) * 1000));
    set(
      diskBody,
      table(
        ["Device", "Read", "Write", "IOPS r/w", "Latency r/w", "Util"],
        ds.map((d) =>
          h(
            "tr",
            null,
            h("td", { class: "mono" }, d.device),
            h("td", { class: "num" }, fmtRate(d.read_bytes_per_second)),
            h("td", { class: "num" }, fmtRate(d.write_bytes_per_second)),
            h("td", { class: "num" }, fmtNum(d.read_ops_per_second) + " / " + fmtNum(d.write_ops_per_second)),
            h("td", { class: "num" }, lat(d.read_latency_seconds) + " / " + lat(d.write_latency_seconds) + " ms"),
            h("td", { class: "num" }, fmtPct(d.utilization_percent))
          )
        ),
        "compact"
      )
    );
  }

  function updateNet(ns) {
    if (!ns || !ns.length) return set(netBody, msg("No network interfaces reported.", "muted"));
    const sorted = ns.slice().sort((a, b) => (b.up ? 1 : 0) - (a.up ? 1 : 0));
    set(
      netBody,
      table(
        ["Interface", "State", "Receive", "Transmit", "Errors/s"],
        sorted.map((n) => {
          const errs = (num(n.receive_errors_per_second) || 0) + (num(n.transmit_errors_per_second) || 0);
          return h(
            "tr",
            null,
            h("td", { class: "mono" }, n.device),
            h("td", null, n.up ? badge("up", "ok") : badge("down", "")),
            h("td", { class: "num" }, fmtRate(n.receive_bytes_per_second)),
            h("td", { class: "num" }, fmtRate(n.transmit_bytes_per_second)),
            h("td", { class: "num" + (errs > 0 ? " bad-text" : "") }, fmtNum(errs))
          );
        }),
        "compact",
        2
      )
    );
  }

  function updateTemps(host) {
    const ts = host.temperatures || [];
    if (!ts.length) {
      const hw = (host.collectors || []).find((c) => c.name === "hwmon");
      return set(tempBody, msg("No temperature sensors" + (hw && hw.error ? ": " + hw.error : "."), "muted"));
    }
    set(
      tempBody,
      table(
        ["Chip", "Sensor", "Now", "Max", "Critical"],
        ts.map((t) => {
          const hot = t.crit_celsius != null && num(t.celsius) >= num(t.crit_celsius) - 5;
          return h(
            "tr",
            null,
            h("td", null, t.chip_name || ""),
            h("td", null, t.label || t.sensor || ""),
            h("td", { class: "num" + (hot ? " bad-text" : "") }, C(t.celsius)),
            h("td", { class: "num" }, t.max_celsius != null ? C(t.max_celsius) : "–"),
            h("td", { class: "num" }, t.crit_celsius != null ? C(t.crit_celsius) : "–")
          );
        }),
        "compact",
        2
      )
    );
  }

  // ---- runs ----
  const runRows = new Map(); // id -> {el, chart, step, parts}
  let runsSeeded = false;

  function runRow(r) {
    const p = {
      status: h("span"),
      prog: progress(0, "thin"),
      step: h("span", { class: "muted small" }),
      rate: h("span", { class: "small" }),
      eta: h("span", { class: "small" }),
      loss: h("span", { class: "small mono" }),
    };
    const sp = h("div", { class: "spark-wrap" });
    const el = h(
      "div",
      { class: "run-row", "data-run": r.id },
      h("div", { class: "run-line" }, h("a", { href: runHref(r.id), class: "run-name" }, r.name || r.id), p.status, p.step),
      p.prog,
      h("div", { class: "run-line" }, p.rate, p.eta, h("span", { class: "small muted" }, "loss"), p.loss),
      sp
    );
    runsBody.append(el);
    const chart = new Chart(ctx, sp, {
      id: "spark-run-" + r.id + "-loss",
      spark: true,
      series: [{ label: "loss", color: "#ec4899" }],
      max: 600,
      height: 28,
    });
    return { el, chart, parts: p, step: -1 };
  }

  function updateRuns(runs, render) {
    const active = runs.filter((r) => r.status === "running" || r.status === "stalled");
    if (!active.length) {
      for (const x of runRows.values()) dropChart(x.chart);
      runRows.clear();
      if (render) set(runsBody, msg("No active runs.", "muted"));
      return;
    }
    if (!runRows.size) set(runsBody);
    const ids = new Set(active.map((r) => r.id));
    for (const [id, x] of runRows) {
      if (!ids.has(id)) {
        dropChart(x.chart);
        x.el.remove();
        runRows.delete(id);
      }
    }
    for (const r of active) {
      let x = runRows.get(r.id);
      if (!x) {
        x = runRow(r);
        runRows.set(r.id, x);
      }
      const loss = fin(lastLoss(r));
      if (r.step > x.step) {
        x.step = r.step;
        const t = r.last_step_time ? tsec(r.last_step_time) : Date.now() / 1000;
        if (loss != null) x.chart.append(t, [loss]);
      }
      if (!render) continue;
      set(x.parts.status, statusBadge(r.status));
      const pr = runProgress(r);
      setBar(x.parts.prog, pr == null ? 0 : pr);
      x.parts.prog.classList.toggle("unknown", pr == null);
      text(x.parts.step, "step " + fmtNum(r.step) + (r.total_steps ? " / " + fmtNum(r.total_steps) : "") + (pr != null ? " · " + fmtPct(pr) : ""));
      text(x.parts.rate, fmtNum(r.steps_per_second) + " steps/s");
      text(x.parts.eta, r.eta_seconds != null ? "ETA " + fmtDur(r.eta_seconds) : "ETA –");
      text(x.parts.loss, lastLoss(r) != null ? fmtVal(lastLoss(r)) : "–");
    }
    if (!runsSeeded && hist) {
      runsSeeded = true;
      const start = Math.min(...active.map((r) => tsec(r.start))) || Date.now() / 1000 - range;
      const end = Date.now() / 1000;
      const re = active.map((r) => reEsc(r.id)).join("|");
      ctx.guard(
        promRange(sel("training_loss", 'run=~"' + re.replace(/\\/g, "\\\\") + '"'), start, end, stepFor(end - start, 150), ctx.signal).then((res) => {
          for (const s of res) {
            const x = runRows.get(s.metric.run);
            if (!x) continue;
            x.chart.seed([s.values.map((p) => p[0]), s.values.map((p) => fin(p[1]))]);
          }
        })
      );
    }
  }

  // ---- alerts ----
  let alertKey = "";
  function updateAlerts(alerts) {
    const k = JSON.stringify(alerts.map((a) => [a.name, a.state, a.summary, a.labels]));
    if (k === alertKey) return;
    alertKey = k;
    if (!alerts.length) return set(alertsBody, msg("No active alerts.", "muted ok-text"));
    set(
      alertsBody,
      h(
        "ul",
        { class: "alert-list" },
        alerts.map((a) =>
          h(
            "li",
            { class: "alert-item " + a.state },
            h("div", null, statusBadge(a.state), " ", h("b", null, a.name), a.severity ? h("span", { class: "muted small" }, " · " + a.severity) : null,
              a.active_at ? h("span", { class: "muted small" }, " · since " + fmtAgo(a.active_at)) : null),
            a.summary ? h("div", { class: "small" }, a.summary) : null
          )
        )
      )
    );
  }

  return {
    update(d, render) {
      const host = d.host;
      if (!host) {
        if (render) set(gpuSec, msg("The agent has not collected a snapshot yet.", "muted"));
        return;
      }
      const t = host.time ? tsec(host.time) : Date.now() / 1000;
      updateGPUs(host, t, render);
      updateCPU(host.cpu || {}, t, render);
      updateMem(host.memory || {}, t, render);
      updateRuns(d.runs || [], render);
      if (render) {
        updateFS(host.filesystems);
        updateDisks(host.disks);
        updateNet(host.network);
        updateTemps(host);
        updateAlerts(d.alerts || []);
        shown = true;
        if (sparkQueue.length) {
          if (!sparkTimer) sparkTimer = setTimeout(runQueue, 0);
        } else ctx.ready();
      }
    },
  };
}
