// Runs: the list (live from the stream), one run's charts over its
// lifetime, and two runs compared by step.
import {
  S, h, set, text, fmtBytes, fmtPct, fmtNum, fmtVal, fmtAxis, fmtDur, fmtDateTime, fmtAgo, num, fin, tsec, esc, I,
  getJSON, promQuery, promRange, history, HISTORY_OFF, progress as progBar, setBar, statusBadge, msg, card, runHref,
  runProgress, lastLoss, errText, remote,
} from "./core.js";
import { chartCard, draw, empty, color } from "./charts.js";
import { alertIntervals, intervalsTable } from "./alerts.js";

const ACTIVE = new Set(["running", "stalled"]);

function runsEnabled() {
  return !S.config || S.config.runs !== false;
}

// listRuns: the stream's runs, plus api/v1/runs for this agent (finished
// runs the stream may not carry).
async function listRuns(signal) {
  const byId = new Map();
  if (!remote() && runsEnabled()) {
    const r = await getJSON("api/v1/runs", signal);
    for (const x of r.runs || []) byId.set(x.id, x);
  }
  for (const x of (S.last && S.last.runs) || []) byId.set(x.id, Object.assign(byId.get(x.id) || {}, x));
  return byId;
}

async function findRun(id, signal) {
  const live = ((S.last && S.last.runs) || []).find((r) => r.id === id);
  if (live) return live;
  if (remote() || !runsEnabled()) return null;
  return (await listRuns(signal)).get(id) || null;
}

function runEnd(r) {
  return r.end ? tsec(r.end) : Date.now() / 1000;
}

function duration(r) {
  return runEnd(r) - tsec(r.start);
}

// runSeries reads the series matching sel for run r over its lifetime:
// raw samples for short runs (exact steps), else query_range.
async function runSeries(r, names, signal) {
  const start = tsec(r.start);
  const end = runEnd(r);
  const dur = Math.max(1, end - start);
  const m = "{" + (names ? '__name__=~"' + names.join("|") + '",' : "") + 'run="' + esc(r.id) + '",' + I() + "}";
  if (dur <= 3600 && (num(r.step) || 0) <= 20000) {
    // an hour before the start too: clients may log steps with their own
    // (earlier) times, e.g. a backlog sent when the run registers
    const d = await promQuery(m + "[" + Math.ceil(dur + 3600) + "s]", end + 1, signal);
    return { raw: true, start, end, result: d.resultType === "matrix" ? d.result : [] };
  }
  return { raw: false, start, end, result: await promRange(m, start, end, Math.max(1, Math.ceil(dur / 1500)), signal) };
}

// stepOf maps a sample time to the step logged at or before it (from the
// run's batches_processed_total samples, sorted by time).
function stepOf(batches) {
  return (t) => {
    let lo = 0,
      hi = batches.length - 1,
      best = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (batches[mid][0] <= t + 1e-6) {
        best = batches[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  };
}

// alignXY turns lists of [x, y] pairs into uPlot data (a later pair wins
// when two share an x).
function alignXY(lists) {
  const set = new Set();
  for (const l of lists) for (const [x] of l) set.add(x);
  const xs = [...set].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  return [
    xs,
    ...lists.map((l) => {
      const ys = new Array(xs.length).fill(null);
      for (const [x, v] of l) if (v != null) ys[at.get(x)] = v;
      return ys;
    }),
  ];
}

// ---------------- list ----------------

export function runsPage(ctx) {
  const root = ctx.root;
  const selected = new Set();
  const rows = new Map();
  const cmpBtn = h("button", { type: "button", class: "btn primary", disabled: true, id: "compare-btn" }, "Compare");
  const hint = h("span", { class: "muted small" }, "Select two runs to compare them.");
  const tbody = h("tbody");
  const bodyWrap = h("div", { class: "table-wrap card" });
  const table = h(
    "table",
    { class: "tbl runs-table", id: "runs-table" },
    h("thead", null, h("tr", null, ["", "Name", "Status", "Step", "Progress", "Steps/s", "ETA", "Last loss", "Started", "Duration"].map((x) => h("th", null, x)))),
    tbody
  );
  root.append(h("div", { class: "page-head" }, h("h1", null, "Runs"), h("div", { class: "toolbar-inline" }, hint, cmpBtn)), bodyWrap);
  cmpBtn.addEventListener("click", () => {
    if (selected.size === 2) location.hash = "#/compare/" + [...selected].map(encodeURIComponent).join("/");
  });
  const all = new Map();
  let listed = false;

  function syncBtn() {
    cmpBtn.disabled = selected.size !== 2;
    text(hint, selected.size === 2 ? "Compare the two selected runs." : "Select two runs to compare them (" + selected.size + " selected).");
  }

  function row(r) {
    const cb = h("input", { type: "checkbox", "aria-label": "Select " + (r.name || r.id) });
    cb.addEventListener("change", () => {
      if (cb.checked) selected.add(r.id);
      else selected.delete(r.id);
      syncBtn();
    });
    const c = {
      status: h("td"),
      step: h("td", { class: "num" }),
      prog: h("td", { class: "prog-cell" }, progBar(0, "thin")),
      rate: h("td", { class: "num" }),
      eta: h("td", { class: "num" }),
      loss: h("td", { class: "num mono" }),
      started: h("td"),
      dur: h("td", { class: "num" }),
    };
    const el = h(
      "tr",
      { "data-run": r.id },
      h("td", null, cb),
      h("td", null, h("a", { href: runHref(r.id), class: "run-name" }, r.name || r.id), r.name && r.name !== r.id ? h("div", { class: "muted small mono" }, r.id) : null),
      c.status,
      c.step,
      c.prog,
      c.rate,
      c.eta,
      c.loss,
      c.started,
      c.dur
    );
    return { el, c, key: "" };
  }

  function fill(x, r) {
    const p = runProgress(r);
    const k = JSON.stringify([r.status, r.step, r.total_steps, p, r.steps_per_second, r.eta_seconds, lastLoss(r), r.end, Math.floor(Date.now() / 1000)]);
    if (k === x.key) return;
    x.key = k;
    set(x.c.status, statusBadge(r.status), r.exit_code != null && r.exit_code !== 0 ? h("span", { class: "muted small" }, " exit " + r.exit_code) : null);
    text(x.c.step, fmtNum(r.step) + (r.total_steps ? " / " + fmtNum(r.total_steps) : ""));
    const b = x.c.prog.firstChild;
    setBar(b, p == null ? 0 : p);
    b.classList.toggle("unknown", p == null);
    b.title = p == null ? "no total known" : fmtPct(p);
    text(x.c.rate, ACTIVE.has(r.status) ? fmtNum(r.steps_per_second) : "–");
    text(x.c.eta, ACTIVE.has(r.status) && r.eta_seconds != null ? fmtDur(r.eta_seconds) : "–");
    text(x.c.loss, lastLoss(r) != null ? fmtVal(lastLoss(r)) : "–");
    text(x.c.started, fmtDateTime(r.start));
    text(x.c.dur, fmtDur(duration(r)));
  }

  function render() {
    const rs = [...all.values()].sort((a, b) => (ACTIVE.has(b.status) ? 1 : 0) - (ACTIVE.has(a.status) ? 1 : 0) || tsec(b.start) - tsec(a.start));
    if (!runsEnabled()) {
      set(bodyWrap, msg("The run registry is off on this agent.", "muted"));
      return ctx.ready();
    }
    if (!rs.length) {
      set(
        bodyWrap,
        h(
          "div",
          { class: "msg empty" },
          "No runs yet. Start one with ",
          h("code", null, "trainwatch run -- python train.py"),
          ", or register one with ",
          h("code", null, "POST api/v1/runs"),
          " and log steps to it."
        )
      );
      return ctx.ready();
    }
    if (table.parentNode !== bodyWrap) set(bodyWrap, table);
    const ids = new Set(rs.map((r) => r.id));
    for (const [id, x] of rows) {
      if (!ids.has(id)) {
        x.el.remove();
        rows.delete(id);
        selected.delete(id);
      }
    }
    let i = 0;
    for (const r of rs) {
      let x = rows.get(r.id);
      if (!x) rows.set(r.id, (x = row(r)));
      fill(x, r);
      if (tbody.children[i] !== x.el) tbody.insertBefore(x.el, tbody.children[i] || null);
      i++;
    }
    syncBtn();
    ctx.ready();
  }

  ctx.guard(
    listRuns(ctx.signal).then((m) => {
      for (const [id, r] of m) all.set(id, Object.assign(all.get(id) || {}, r));
      listed = true;
      render();
    }),
    (e) => {
      listed = true;
      set(bodyWrap, msg("Cannot list the runs: " + errText(e), "error"));
      ctx.ready();
    }
  );

  return {
    update(d, doRender) {
      for (const r of d.runs || []) all.set(r.id, Object.assign(all.get(r.id) || {}, r));
      if (doRender && listed) render();
    },
  };
}

// ---------------- one run ----------------

const KNOWN = new Set([
  "training_loss", "validation_loss", "learning_rate", "samples_per_second", "tokens_per_second", "current_epoch",
  "batches_processed_total", "trainwatch_run_steps_per_second", "trainwatch_run_progress_ratio", "trainwatch_run_eta_seconds",
]);

// run charts: id, title, series [name, label, live value from run, scale]
const RUN_CHARTS = [
  ["run-loss", "Loss", [["training_loss", "Training loss", (r) => r.metrics && r.metrics.training_loss], ["validation_loss", "Validation loss", null]]],
  ["run-lr", "Learning rate", [["learning_rate", "Learning rate", (r) => r.metrics && r.metrics.learning_rate]]],
  [
    "run-throughput",
    "Throughput",
    [
      ["samples_per_second", "Samples/s", (r) => r.samples_per_second || (r.metrics && r.metrics.samples_per_second)],
      ["tokens_per_second", "Tokens/s", (r) => r.tokens_per_second || (r.metrics && r.metrics.tokens_per_second)],
      ["trainwatch_run_steps_per_second", "Steps/s", (r) => r.steps_per_second],
    ],
  ],
  [
    "run-epoch",
    "Epoch and progress",
    [
      ["current_epoch", "Epoch", (r) => r.epoch],
      ["trainwatch_run_progress_ratio", "Progress", (r) => (r.progress != null ? num(r.progress) * 100 : null), 100],
    ],
  ],
];

export function runPage(ctx, { id }) {
  const root = ctx.root;
  const head = h("div", { class: "page-head" }, h("a", { href: "#/runs", class: "back" }, "← Runs"), h("h1", null, id));
  root.append(head, h("div", { class: "msg muted" }, "Loading run…"));
  let run = null;
  let built = null;
  let gotData = false;

  ctx.guard(
    findRun(id, ctx.signal).then((r) => {
      if (ctx.dead) return;
      if (!r) {
        set(root, head, msg(runsEnabled() ? "There is no run “" + id + "” on this host." : "The run registry is off on this agent.", "error"));
        return ctx.ready();
      }
      run = r;
      built = build(r);
    }),
    (e) => {
      set(root, head, msg("Cannot read the run: " + errText(e), "error"));
      ctx.ready();
    }
  );

  function build(r) {
    const title = h("h1", null, r.name || r.id);
    const info = h("div", { class: "run-info" });
    const metricsBox = h("div");
    const progress = progBar(0);
    const progTxt = h("span", { class: "bar-label" });
    const gpusBody = h("div");
    const procBody = h("div", null, msg("Loading…", "muted"));
    const alertsBody = h("div", null, msg("Loading…", "muted"));
    const grid = h("div", { class: "chart-grid" });
    const cards = {};
    for (const [cid, t] of RUN_CHARTS) {
      cards[cid] = chartCard(t);
      grid.append(cards[cid].box);
    }
    const extraGrid = h("div", { class: "chart-grid" });
    set(
      root,
      h("div", { class: "page-head" }, h("a", { href: "#/runs", class: "back" }, "← Runs"), title, h("span", { class: "st" })),
      h("div", { class: "bar-row wide" }, progress, progTxt),
      h("div", { class: "host-grid" }, card("Run", info), card("Latest metrics", metricsBox), card("GPUs", gpusBody, h("h2", { class: "h2-gap" }, "Processes"), procBody)),
      grid,
      extraGrid,
      card("Alerts during the run", alertsBody)
    );
    const stEl = root.querySelector(".page-head .st");
    const charts = {};
    const lastVal = {};
    let byStep = false;
    let lastStep = -1;

    // history
    if (!history()) {
      for (const c of Object.values(cards)) empty(c.body, HISTORY_OFF);
      set(alertsBody, msg(HISTORY_OFF, "empty"));
      gotData = true;
      ctx.ready();
    } else {
      ctx.guard(
        runSeries(r, null, ctx.signal).then((rs) => {
          const by = new Map();
          for (const s of rs.result) by.set(s.metric.__name__, s.values);
          // x is the step when the run logs steps (a curve by step reads
          // the same however fast the steps were logged), else the time
          const batches = (by.get("batches_processed_total") || []).map(([t, v]) => [t, num(v)]);
          byStep = batches.length > 0;
          const X = byStep ? stepOf(batches) : (t) => t;
          const pairs = (n, k) => (by.get(n) || []).map(([t, v]) => [X(t), fin(v) == null ? null : fin(v) * (k || 1)]).filter(([x]) => x != null);
          for (const [cid, t, ss] of RUN_CHARTS) makeChart(cid, t, ss, ss.map(([n, , , k]) => pairs(n, k)), rs);
          const extra = [...by.keys()].filter((n) => !KNOWN.has(n) && !n.startsWith("trainwatch_") && !n.includes(":")).sort().slice(0, 12);
          for (const n of extra) {
            const c = chartCard(n);
            extraGrid.append(c.box);
            const o = xOpts({ id: "run-" + n, series: [{ label: n, spanGaps: true }], data: alignXY([pairs(n)]), height: 150 }, rs);
            draw(ctx, c.body, o, n + " of this run");
          }
          gotData = true;
          ctx.ready();
        }),
        (e) => {
          for (const c of Object.values(cards)) empty(c.body, "History query failed: " + errText(e), "error");
          gotData = true;
          ctx.ready();
        }
      );
      ctx.guard(
        alertIntervals(tsec(r.start), runEnd(r), ctx.signal).then((xs) => set(alertsBody, intervalsTable(xs, "No alert fired during this run."))),
        (e) => set(alertsBody, msg("History query failed: " + errText(e), "error"))
      );
    }

    // xOpts sets the x axis: steps, or time over the run's lifetime.
    function xOpts(o, rs) {
      if (byStep) {
        o.xTime = false;
        o.xLabel = "Step";
        o.xFmt = (v) => fmtNum(v);
      } else {
        o.xmin = rs.start;
        o.xmax = rs.end;
      }
      return o;
    }

    function chartOpts(cid, ss, data, rs) {
      const o = {
        id: cid,
        series: ss.map(([n, label], i) => ({
          label,
          spanGaps: true,
          color: cid === "run-loss" ? (i ? "#f59e0b" : "#3b82f6") : color(i),
          points: n === "validation_loss" ? { show: true, size: 5 } : undefined,
        })),
        data,
        height: 200,
        fmt: (v) => fmtVal(v),
        yValues: (u, vs) => vs.map(fmtAxis),
        max: 5000,
      };
      for (const s of o.series) if (!s.points) delete s.points;
      if (cid === "run-throughput" || cid === "run-epoch") {
        delete o.yValues;
        // each series on its own scale; left and right axes for the first two
        o.series.forEach((s, i) => (s.scale = i === 0 ? "y" : "y" + i));
        o.fmt = (v) => fmtNum(v);
        if (o.series.length > 1) o.axes2 = { scale: "y1", fmt: (v) => fmtNum(v) };
        if (cid === "run-epoch" && o.series.length > 1) {
          o.series[1].fmt = fmtPct;
          o.axes2 = { scale: "y1", fmt: fmtPct, yMin: 0, yMax: 100 };
        }
      }
      if (cid === "run-lr") o.yMin = 0;
      return xOpts(o, rs);
    }

    function makeChart(cid, t, ss, lists, rs) {
      if (!lists.some((l) => l.length)) {
        empty(cards[cid].body, "No data for " + t.toLowerCase() + " of this run in its lifetime");
        return;
      }
      // throughput/epoch: keep only the series that exist, so the axes
      // belong to real values
      let use = ss.map((s, i) => [s, lists[i]]);
      if (cid === "run-throughput" || cid === "run-epoch") use = use.filter(([, l]) => l.length);
      const sDefs = use.map(([d]) => d);
      const o = chartOpts(cid, sDefs, alignXY(use.map(([, l]) => l)), rs);
      if (cid === "run-epoch" && sDefs[0][0] !== "current_epoch") {
        o.fmt = fmtPct;
        o.yMin = 0;
        o.yMax = 100;
        delete o.axes2;
      }
      const ch = draw(ctx, cards[cid].body, o, t.toLowerCase() + " of this run");
      if (ch) charts[cid] = { ch, defs: sDefs };
    }

    function liveAppend(r) {
      if (r.step <= lastStep) return;
      const first = lastStep < 0;
      lastStep = r.step;
      if (first || !ACTIVE.has(r.status)) return;
      const t = r.last_step_time ? tsec(r.last_step_time) : Date.now() / 1000;
      const x = byStep ? r.step : t;
      for (const [cid, tt, ss] of RUN_CHARTS) {
        const c = charts[cid];
        const defs = c ? c.defs : ss;
        const vals = defs.map(([n, , get]) => {
          if (!get) {
            // validation loss: only when it changed
            const v = fin(r.metrics && r.metrics[n]);
            if (v == null || v === lastVal[n]) return null;
            lastVal[n] = v;
            return v;
          }
          return fin(get(r));
        });
        if (!vals.some((v) => v != null)) continue;
        if (c) c.ch.append(x, vals);
        else if (gotData && history()) {
          const o = chartOpts(cid, defs, [[x], ...vals.map((v) => [v])], { start: tsec(r.start), end: t });
          charts[cid] = { ch: draw(ctx, cards[cid].body, o, tt), defs };
        }
      }
      if (r.metrics && r.metrics.validation_loss != null) lastVal.validation_loss = fin(r.metrics.validation_loss);
    }

    // processes: api/ui/processes filtered by the run's job (or PID)
    async function loadProcs() {
      if (remote()) return set(procBody, msg("The process list is only available on the host's own agent.", "muted"));
      if (S.config && S.config.processes === false) return set(procBody, msg("The process collector is off on this agent.", "muted"));
      if (!run.job && !(run.pid > 0)) return set(procBody, msg("No process is known for this run (it reported no PID).", "muted"));
      try {
        const pl = await getJSON("api/ui/processes", ctx.signal);
        const ps = (pl.processes || []).filter((p) => (run.job && p.job === run.job) || p.pid === run.pid);
        set(
          procBody,
          ps.length
            ? h(
                "table",
                { class: "tbl compact" },
                h("thead", null, h("tr", null, ["PID", "Command", "CPU %", "RSS", "GPU memory"].map((x) => h("th", null, x)))),
                h(
                  "tbody",
                  null,
                  ps.map((p) =>
                    h(
                      "tr",
                      null,
                      h("td", { class: "num" }, String(p.pid)),
                      h("td", { class: "mono cmd", title: p.cmdline || "" }, p.command),
                      h("td", { class: "num" }, fmtPct(p.cpu_percent)),
                      h("td", { class: "num" }, fmtBytes(p.resident_bytes)),
                      h("td", { class: "num" }, num(p.gpu_memory_bytes) > 0 ? fmtBytes(p.gpu_memory_bytes) : "–")
                    )
                  )
                )
              )
            : msg(ACTIVE.has(run.status) ? "No live process of this run was found." : "The run has ended; its processes are gone.", "muted")
        );
      } catch (e) {
        if (!ctx.dead && e.name !== "AbortError") set(procBody, msg("The process list is unavailable: " + errText(e), "muted"));
      }
    }
    ctx.guard(loadProcs());
    ctx.every(10000, () => {
      if (ACTIVE.has(run.status)) ctx.guard(loadProcs());
    });

    let metricsKey = "";
    function renderInfo(r, host) {
      text(title, r.name || r.id);
      set(stEl, statusBadge(r.status));
      const p = runProgress(r);
      setBar(progress, p == null ? 0 : p);
      progress.classList.toggle("unknown", p == null);
      text(
        progTxt,
        "step " + fmtNum(r.step) + (r.total_steps ? " / " + fmtNum(r.total_steps) : "") + (p != null ? " · " + fmtPct(p) : "") +
          (ACTIVE.has(r.status) && r.eta_seconds != null ? " · ETA " + fmtDur(r.eta_seconds) : "")
      );
      const kv = [
        ["ID", r.id],
        ["Host", r.host || ""],
        ["Source", r.source || ""],
        ["Command", r.command || ""],
        ["Started", fmtDateTime(r.start)],
        [r.end ? "Ended" : "Running for", r.end ? fmtDateTime(r.end) + " (" + fmtDur(duration(r)) + ")" : fmtDur(duration(r))],
        ["Exit code", r.exit_code != null ? String(r.exit_code) : ""],
        ["Epoch", fin(r.epoch) != null ? fmtNum(r.epoch) + (r.total_epochs ? " / " + fmtNum(r.total_epochs) : "") : ""],
        ["Steps/s", ACTIVE.has(r.status) ? fmtNum(r.steps_per_second) : ""],
        ["Samples/s", r.samples_per_second ? fmtNum(r.samples_per_second) : ""],
        ["Tokens/s", r.tokens_per_second ? fmtNum(r.tokens_per_second) : ""],
        ["Last step", r.last_step_time ? fmtAgo(r.last_step_time) : ""],
        ["PID", r.pid > 0 ? String(r.pid) : ""],
        ["Job", r.job || ""],
      ].filter(([, v]) => v !== "");
      set(info, h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", null, k), h("dd", { class: k === "Command" || k === "ID" ? "mono" : "" }, v)])));
      const mk = JSON.stringify(r.metrics || {});
      if (mk !== metricsKey) {
        metricsKey = mk;
        const ms = Object.entries(r.metrics || {}).sort();
        set(metricsBox, ms.length ? h("dl", { class: "kv" }, ms.map(([k, v]) => [h("dt", { class: "mono" }, k), h("dd", { class: "mono" + (fin(v) == null ? " bad-text" : "") }, fmtVal(v))])) : msg("No metrics logged yet.", "muted"));
      }
      const gs = r.gpus || [];
      const hg = (host && host.gpus) || [];
      set(
        gpusBody,
        gs.length
          ? h(
              "ul",
              { class: "plain gpu-links" },
              gs.map((g) => {
                const x = hg.find((y) => String(y.index) === String(g));
                return h("li", null, h("a", { href: "#/gpu/" + encodeURIComponent(g) }, "GPU " + g), x ? h("span", { class: "muted small" }, x.up === false ? " lost" : " · " + fmtPct(x.utilization_percent) + " · " + fmtBytes(x.memory_used_bytes)) : null);
              })
            )
          : msg("No GPU is known for this run" + (r.job ? "." : " (the agent found no process of it)."), "muted")
      );
    }

    renderInfo(r, S.last && S.last.host);
    if (S.last) liveAppend(r);
    return {
      update(d, render) {
        const nr = (d.runs || []).find((x) => x.id === r.id);
        if (!nr) return;
        run = nr;
        liveAppend(nr);
        if (render) renderInfo(nr, d.host);
      },
    };
  }

  return {
    update(d, render) {
      if (built) built.update(d, render);
    },
  };
}

// ---------------- compare ----------------

const CMP = ["batches_processed_total", "training_loss", "validation_loss", "learning_rate"];

export function comparePage(ctx, { a, b }) {
  const root = ctx.root;
  const head = h("div", { class: "page-head" }, h("a", { href: "#/runs", class: "back" }, "← Runs"), h("h1", null, "Compare runs"));
  root.append(head);
  const body = h("div", null, msg("Loading…", "muted"));
  root.append(body);
  if (!a || !b) {
    set(body, msg("Pick two runs on the Runs page to compare them.", "muted"));
    ctx.ready();
    return {};
  }
  ctx.guard(
    (async () => {
      const [ra, rb] = await Promise.all([findRun(a, ctx.signal), findRun(b, ctx.signal)]);
      const missing = [[a, ra], [b, rb]].filter(([, r]) => !r).map(([x]) => "“" + x + "”");
      if (missing.length) {
        set(body, msg(runsEnabled() ? "There is no run " + missing.join(" or ") + " on this host." : "The run registry is off on this agent.", "error"));
        return;
      }
      const summary = h("div");
      const lossC = chartCard("Loss by step");
      const lrC = chartCard("Learning rate by step");
      set(body, card("Runs", summary), h("div", { class: "chart-grid one" }, lossC.box, lrC.box));
      const cols = [ra, rb];
      renderSummary(summary, cols);
      if (!history()) {
        empty(lossC.body, HISTORY_OFF);
        empty(lrC.body, HISTORY_OFF);
        return;
      }
      const [sa, sb] = await Promise.all([runSeries(ra, CMP, ctx.signal), runSeries(rb, CMP, ctx.signal)]);
      const per = [sa, sb].map((s) => {
        const m = new Map();
        for (const x of s.result) m.set(x.metric.__name__, x.values.map(([t, v]) => [t, fin(v)]));
        return { start: s.start, m };
      });
      const bySteps = per.every((p) => (p.m.get("batches_processed_total") || []).length > 0);
      // xOf maps a sample time to the run's step (latest step logged at or
      // before it) or to seconds since the run started
      const xOf = (p) => (bySteps ? stepOf(p.m.get("batches_processed_total")) : (t) => t - p.start);
      const xFmt = bySteps ? (v) => fmtNum(v) : (v) => fmtDur(v);
      const xLabel = bySteps ? "step" : "time since start";
      const build = (names, labels) => {
        const lists = [];
        const meta = [];
        names.forEach((n, ni) =>
          per.forEach((p, pi) => {
            const f = xOf(p);
            const pts = (p.m.get(n) || []).map(([t, v]) => [f(t), v]).filter(([x, v]) => x != null && v != null);
            lists.push(pts);
            meta.push({ label: labels[ni] + " · " + (cols[pi].name || cols[pi].id), color: pi ? "#f59e0b" : "#3b82f6", dash: ni ? [6, 4] : null, spanGaps: true });
          })
        );
        const data = alignXY(lists);
        // drop series with no value
        const keep = [0];
        for (let i = 1; i < data.length; i++) if (data[i].some((v) => v != null)) keep.push(i);
        return { data: keep.map((i) => data[i]), series: keep.slice(1).map((i) => meta[i - 1]) };
      };
      const mk = (c, id, names, labels, what, yMin) => {
        const { data, series } = build(names, labels);
        for (const s of series) if (!s.dash) delete s.dash;
        draw(ctx, c.body, { id, series, data, xTime: false, xFmt, xLabel: bySteps ? "Step" : "Since start", fmt: (v) => fmtVal(v), yValues: (u, vs) => vs.map(fmtAxis), height: 260, yMin, max: 20000 }, what + " of these runs (x: " + xLabel + ")");
      };
      mk(lossC, "compare-loss", ["training_loss", "validation_loss"], ["train", "val"], "loss");
      mk(lrC, "compare-lr", ["learning_rate"], ["lr"], "learning rate", 0);
      if (!bySteps) {
        lossC.box.querySelector("h2").textContent = "Loss by time since start (a run logged no steps)";
        lrC.box.querySelector("h2").textContent = "Learning rate by time since start";
      }
    })(),
    (e) => set(body, msg("Cannot compare: " + errText(e), "error"))
  ).then(() => ctx.ready());

  return {};
}

function renderSummary(el, rs) {
  const row = (label, f) => h("tr", null, h("th", null, label), rs.map((r) => h("td", null, f(r))));
  set(
    el,
    h(
      "table",
      { class: "tbl compact compare-table" },
      h("thead", null, h("tr", null, h("th"), rs.map((r, i) => h("th", null, h("span", { class: "swatch", style: "background:" + (i ? "#f59e0b" : "#3b82f6") }), h("a", { href: runHref(r.id) }, r.name || r.id))))),
      h(
        "tbody",
        null,
        row("Status", (r) => statusBadge(r.status)),
        row("Steps", (r) => fmtNum(r.step) + (r.total_steps ? " / " + fmtNum(r.total_steps) : "")),
        row("Last loss", (r) => (lastLoss(r) != null ? fmtVal(lastLoss(r)) : "–")),
        row("Validation loss", (r) => (r.metrics && r.metrics.validation_loss != null ? fmtVal(r.metrics.validation_loss) : "–")),
        row("Learning rate", (r) => (r.metrics && r.metrics.learning_rate != null ? fmtVal(r.metrics.learning_rate) : "–")),
        row("Started", (r) => fmtDateTime(r.start)),
        row("Duration", (r) => fmtDur(duration(r)))
      )
    )
  );
}
