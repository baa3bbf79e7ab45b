// GPU detail: history charts over the picked range (three query_range
// calls), live values, processes, runs, throttle reasons and XID events.
import {
  S, h, set, text, fmtBytes, fmtPct, fmtNum, num, tsec, I, esc, promRange, stepFor, history,
  HISTORY_OFF, badge, statusBadge, msg, runHref, runProgress, errText, card, align,
} from "./core.js";
import { chartCard, draw, empty } from "./charts.js";
import { gpuBadges, noGPUPanel } from "./overview.js";

const MHz = (v) => fmtNum(v) + " MHz";
const W = (v) => fmtNum(v) + " W";
const C = (v) => fmtNum(v) + " °C";

// chart definitions: id, title, series [metric, label, from snapshot, scale], fmt, yMin, yMax
const DEFS = [
  ["gpu-util", "Utilisation", [["DCGM_FI_DEV_GPU_UTIL", "GPU utilisation", (g) => g.utilization_percent, 1]], fmtPct, 0, 100],
  ["gpu-mem", "Memory used", [["DCGM_FI_DEV_FB_USED", "Used", (g) => g.memory_used_bytes, 1048576]], fmtBytes, 0, null],
  [
    "gpu-temp",
    "Temperature",
    [
      ["DCGM_FI_DEV_GPU_TEMP", "GPU", (g) => g.temperature_celsius, 1],
      ["DCGM_FI_DEV_MEMORY_TEMP", "Memory", () => null, 1],
    ],
    C, null, null,
  ],
  [
    "gpu-power",
    "Power",
    [
      ["DCGM_FI_DEV_POWER_USAGE", "Power", (g) => g.power_watts, 1],
      ["DCGM_FI_DEV_POWER_MGMT_LIMIT", "Limit", (g) => g.power_limit_watts, 1],
    ],
    W, 0, null,
  ],
  [
    "gpu-clock",
    "Clocks",
    [
      ["DCGM_FI_DEV_SM_CLOCK", "SM", (g) => (g.sm_clock_hertz != null ? g.sm_clock_hertz / 1e6 : null), 1],
      ["DCGM_FI_DEV_MEM_CLOCK", "Memory", (g) => (g.memory_clock_hertz != null ? g.memory_clock_hertz / 1e6 : null), 1],
    ],
    MHz, 0, null,
  ],
  [
    "gpu-tensor",
    "Tensor & SM activity",
    [
      ["DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Tensor active", (g) => g.tensor_active_percent, 100],
      ["DCGM_FI_PROF_SM_ACTIVE", "SM active", (g) => g.sm_active_percent, 100],
    ],
    fmtPct, 0, 100,
  ],
];

export function gpuPage(ctx, { idx }) {
  const root = ctx.root;
  const range = S.range;
  const now = Date.now() / 1000;
  const start = now - range;
  const step = stepFor(range, 500);
  const G = 'gpu="' + esc(idx) + '"';

  const title = h("h1", null, "GPU " + idx);
  const sub = h("div", { class: "sub" });
  const badges = h("div", { class: "gpu-badges" });
  const stats = {};
  const statEl = (k, label) => {
    stats[k] = h("span", { class: "stat-v", "data-live": "gpu-" + idx + "-" + k }, "–");
    return h("div", { class: "stat" }, h("div", { class: "stat-k" }, label), stats[k]);
  };
  const statRow = h(
    "div",
    { class: "stats" },
    statEl("util", "Utilisation"),
    statEl("mem", "Memory"),
    statEl("temp", "Temperature"),
    statEl("power", "Power"),
    statEl("sm", "SM clock"),
    statEl("memclk", "Memory clock"),
    statEl("tensor", "Tensor active")
  );
  const lostBox = h("div");
  const charts = {};
  const grid = h("div", { class: "chart-grid" });
  for (const [id, t] of DEFS) {
    charts[id] = chartCard(t);
    grid.append(charts[id].box);
  }
  const thr = chartCard("Clock throttle reasons", h("span", { class: "muted small" }, "when each reason was active"));
  const xid = chartCard("XID events", h("span", { class: "muted small" }, "new events per " + step + " s"));
  const thrNow = h("span", { class: "gpu-badges inline" });
  thr.box.insertBefore(h("div", { class: "small" }, "Now: ", thrNow), thr.body);
  const xidNow = h("div", { class: "small" });
  xid.box.insertBefore(xidNow, xid.body);
  grid.append(thr.box, xid.box);
  const procBody = h("div");
  const runBody = h("div");
  root.append(
    h("div", { class: "page-head" }, h("a", { href: "#/overview", class: "back" }, "← Overview"), title, badges),
    sub,
    lostBox,
    statRow,
    grid,
    h("div", { class: "chart-grid" }, card("Processes on this GPU", procBody), card("Runs using this GPU", runBody))
  );

  const live = {}; // chart id -> Chart
  let gotSnap = false;
  let histDone = !history();
  const maybeReady = () => {
    if (gotSnap && histDone) ctx.ready();
  };
  if (!history()) {
    for (const c of Object.values(charts)) empty(c.body, HISTORY_OFF);
    empty(thr.body, HISTORY_OFF);
    empty(xid.body, HISTORY_OFF);
  } else {
    const names = [];
    for (const d of DEFS) for (const s of d[2]) names.push(s[0]);
    ctx.guard(
      promRange('{__name__=~"' + names.join("|") + '",' + G + "," + I() + "}", start, now, step, ctx.signal).then((res) => {
        for (const [id, t, ss, fmt, yMin, yMax] of DEFS) {
          const rs = ss.map(([m]) => res.find((r) => r.metric.__name__ === m) || { values: [] });
          const data = align(rs, (y, k) => y * ss[k][3]);
          const g = gpuOf(S.last);
          const o = {
            id,
            series: ss.map(([, label], k) => ({ label, fill: k === 0, dash: label === "Limit" ? [6, 4] : undefined })),
            data,
            fmt,
            yMin,
            yMax: id === "gpu-mem" && g ? num(g.memory_total_bytes) || null : yMax,
            win: range,
            xmin: start,
            xmax: now,
            height: 180,
          };
          for (const s of o.series) if (!s.dash) delete s.dash;
          const ch = draw(ctx, charts[id].body, o, t.toLowerCase() + " of GPU " + idx);
          if (ch) live[id] = ch;
        }
      }),
      (e) => {
        for (const c of Object.values(charts)) empty(c.body, "History query failed: " + errText(e), "error");
      }
    ).then(() => {
      histDone = true;
      maybeReady();
    });
    ctx.guard(
      promRange("trainwatch_gpu_clock_event_active{" + G + "," + I() + "}", start, now, step, ctx.signal).then((res) => {
        const act = res.filter((r) => r.values.some((p) => num(p[1]) > 0)).sort((a, b) => (a.metric.reason < b.metric.reason ? -1 : 1));
        if (!res.length) return empty(thr.body, "No data for clock throttle reasons of GPU " + idx + " in this range");
        if (!act.length) return empty(thr.body, "No clock throttling in this range", "ok-text");
        const names = act.map((r) => r.metric.reason || "?");
        // each active reason is drawn as a band at its own level
        const data = align(act, (y, k) => (y > 0 ? k + 1 : null));
        draw(
          ctx,
          thr.body,
          {
            id: "gpu-throttle",
            series: names.map((n) => ({ label: n.replace(/_/g, " "), width: 6, points: { show: false } })),
            data,
            yMin: 0,
            yMax: names.length + 1,
            fmt: (v) => (v >= 1 ? "active" : ""),
            yValues: (u, vs) => vs.map((v) => (Number.isInteger(v) && v >= 1 && v <= names.length ? names[v - 1].replace(/_/g, " ") : "")),
            ySplits: () => names.map((_, i) => i + 1),
            xmin: start,
            xmax: now,
            height: Math.max(120, 40 + names.length * 26),
          },
          "clock throttle reasons"
        );
      }),
      (e) => empty(thr.body, "History query failed: " + errText(e), "error")
    );
    ctx.guard(
      // The raw counters, differenced here: increase() would miss a
      // counter whose series is born at 1 (the first XID of its code).
      promRange("trainwatch_gpu_xid_events_total{" + G + "," + I() + "}", start, now, step, ctx.signal).then((res) => {
        const incs = res.map((r) => {
          const vs = r.values;
          return {
            metric: r.metric,
            values: vs.map(([t, v], i) => {
              const y = num(v);
              let d;
              if (i === 0) d = t > start + 2 * step ? y : 0;
              else {
                const p = num(vs[i - 1][1]);
                d = t - vs[i - 1][0] > 2 * step ? y : y >= p ? y - p : y;
              }
              return [t, d > 0 ? d : null];
            }),
          };
        });
        const act = incs.filter((r) => r.values.some((p) => p[1] != null));
        if (!act.length) return empty(xid.body, "No XID events for GPU " + idx + " in this range", "ok-text");
        draw(
          ctx,
          xid.body,
          {
            id: "gpu-xid",
            series: act.map((r) => ({ label: "XID " + (r.metric.xid || "?"), bars: true })),
            data: align(act),
            yMin: 0,
            fmt: (v) => fmtNum(v),
            xmin: start,
            xmax: now,
            height: 150,
          },
          "XID events"
        );
      }),
      (e) => empty(xid.body, "History query failed: " + errText(e), "error")
    );
  }

  function gpuOf(d) {
    const gs = (d && d.host && d.host.gpus) || [];
    return gs.find((g) => String(g.index) === String(idx));
  }

  let procKey = "",
    runKey = "",
    badgeKey = "";
  return {
    update(d, render) {
      const host = d.host;
      if (!host) return;
      const g = gpuOf(d);
      const t = host.time ? tsec(host.time) : Date.now() / 1000;
      if (g && g.up !== false) {
        if (live["gpu-mem"] && g.memory_total_bytes) live["gpu-mem"].o.yMax = num(g.memory_total_bytes);
        for (const [id, , ss] of DEFS) {
          if (live[id]) live[id].append(t, ss.map((s) => s[2](g)));
        }
      }
      if (!render) return;
      if (!g) {
        set(lostBox, (host.gpus || []).length ? msg("There is no GPU " + idx + " on " + (host.hostname || "this host") + ".", "error") : noGPUPanel(host));
        gotSnap = true;
        maybeReady();
        return;
      }
      text(title, "GPU " + idx + (g.model_name ? " · " + g.model_name : ""));
      text(sub, [g.uuid, g.pci_bus_id ? "PCI " + g.pci_bus_id : "", g.pstate != null ? "P-state P" + g.pstate : ""].filter(Boolean).join(" · "));
      if (g.up === false) set(lostBox, msg("GPU " + idx + " is lost: the driver no longer answers for it (it may have fallen off the bus; check XID events and dmesg).", "error lost-text"));
      else set(lostBox);
      const bk = JSON.stringify([g.throttle_reasons, g.xid_events_total, g.up]);
      if (bk !== badgeKey) {
        badgeKey = bk;
        set(badges, g.up === false ? badge("lost", "bad") : badge("up", "ok"), gpuBadges(g));
        const tr = g.throttle_reasons || [];
        set(thrNow, tr.length ? tr.map((r) => badge(r.replace(/_/g, " "), "warn")) : h("span", { class: "muted" }, "none"));
        const xs = Object.entries(g.xids || {});
        set(
          xidNow,
          xs.length
            ? ["Since the agent started: ", xs.map(([c, n]) => badge("XID " + c + " ×" + n, "bad")), " (total " + fmtNum(g.xid_events_total) + ")"]
            : h("span", { class: "muted" }, "No XID events since the agent started.")
        );
      }
      text(stats.util, g.utilization_percent != null ? fmtPct(g.utilization_percent) : "–");
      text(stats.mem, g.memory_used_bytes != null ? fmtBytes(g.memory_used_bytes) + " / " + fmtBytes(g.memory_total_bytes) : "–");
      text(stats.temp, g.temperature_celsius != null ? C(g.temperature_celsius) : "–");
      text(stats.power, g.power_watts != null ? W(g.power_watts) : "–");
      text(stats.sm, g.sm_clock_hertz != null ? MHz(g.sm_clock_hertz / 1e6) : "–");
      text(stats.memclk, g.memory_clock_hertz != null ? MHz(g.memory_clock_hertz / 1e6) : "–");
      text(stats.tensor, g.tensor_active_percent != null ? fmtPct(g.tensor_active_percent) : "–");
      if (g.power_limit_watts != null) stats.power.title = "limit " + W(g.power_limit_watts);

      const procs = g.processes || [];
      const pk = JSON.stringify(procs);
      if (pk !== procKey) {
        procKey = pk;
        set(
          procBody,
          procs.length
            ? h(
                "table",
                { class: "tbl compact" },
                h("thead", null, h("tr", null, ["PID", "Command", "User", "Container", "GPU memory", "SM %"].map((x) => h("th", null, x)))),
                h(
                  "tbody",
                  null,
                  procs.map((p) =>
                    h(
                      "tr",
                      null,
                      h("td", { class: "num" }, String(p.pid)),
                      h("td", { class: "mono" }, p.command || ""),
                      h("td", null, p.user || ""),
                      h("td", null, p.container || ""),
                      h("td", { class: "num" }, fmtBytes(p.memory_bytes)),
                      h("td", { class: "num" }, p.sm_utilization_percent != null ? fmtPct(p.sm_utilization_percent) : "–")
                    )
                  )
                )
              )
            : msg("No processes are using this GPU.", "muted")
        );
      }
      const runs = (d.runs || []).filter((r) => (r.gpus || []).map(String).includes(String(idx)));
      const rk = JSON.stringify(runs.map((r) => [r.id, r.status, r.step]));
      if (rk !== runKey) {
        runKey = rk;
        set(
          runBody,
          runs.length
            ? h(
                "ul",
                { class: "plain" },
                runs.map((r) => {
                  const p = runProgress(r);
                  return h("li", { "data-run": r.id }, h("a", { href: runHref(r.id) }, r.name || r.id), " ", statusBadge(r.status), h("span", { class: "muted small" }, " step " + fmtNum(r.step) + (p != null ? " · " + fmtPct(p) : "")));
                })
              )
            : msg("No run is known to use this GPU.", "muted")
        );
      }
      gotSnap = true;
      maybeReady();
    },
  };
}
