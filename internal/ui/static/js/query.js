// Query: PromQL against this agent's history (or the fleet's), as an
// instant table and a range chart over the picked range.
import { S, h, set, text, fmtVal, fmtDateTime, promQuery, promRange, stepFor, history, HISTORY_OFF, msg, errText, remote, align } from "./core.js";
import { chartCard, draw, empty } from "./charts.js";

const MAX_SERIES = 30;

function labelsOf(m) {
  const name = m.__name__ || "";
  const ls = Object.keys(m)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => k + '="' + m[k] + '"');
  return name + (ls.length || !name ? "{" + ls.join(", ") + "}" : "");
}

export function queryPage(ctx, { q }) {
  const root = ctx.root;
  let initial = q.get("expr") || "";
  if (!initial) {
    try {
      initial = localStorage.getItem("trainwatch.query") || "";
    } catch (e) {
      /* none */
    }
  }
  const ta = h("textarea", { id: "query-expr", rows: "3", spellcheck: "false", placeholder: 'PromQL, e.g. DCGM_FI_DEV_GPU_UTIL or rate(node_network_receive_bytes_total{device="eth0"}[1m])' });
  ta.value = initial;
  const btn = h("button", { id: "query-run", type: "button", class: "btn primary" }, "Run");
  const status = h("span", { class: "muted small" });
  const errBox = h("div", { id: "query-error", class: "msg error", hidden: true });
  const tableBody = h("div", { class: "table-wrap" });
  const tableCard = h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", null, "Instant result"), h("span", { class: "muted small", id: "query-time" })), tableBody);
  const chart = chartCard("Range result");
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Query")),
    h(
      "section",
      { class: "card query-box" },
      ta,
      h(
        "div",
        { class: "toolbar" },
        btn,
        h("span", { class: "muted small" }, "Ctrl+Enter runs it · the chart covers the picked range" + (remote() ? " · add instance=\"" + S.instance + "\" to select this host" : "")),
        status
      )
    ),
    errBox,
    tableCard,
    chart.box
  );
  set(tableBody, msg("Run a query to see its result.", "muted"));
  empty(chart.body, "Run a query to see its chart.", "muted");

  let seq = 0;
  let current = null;

  async function run() {
    const expr = ta.value.trim();
    if (!expr) {
      errBox.hidden = false;
      text(errBox, "Enter a PromQL expression.");
      return;
    }
    try {
      localStorage.setItem("trainwatch.query", expr);
    } catch (e) {
      /* none */
    }
    const qs = new URLSearchParams(q);
    qs.set("expr", expr);
    history_replace("#/query?" + qs.toString());
    if (!history()) {
      errBox.hidden = false;
      text(errBox, HISTORY_OFF + ": there is nothing to query.");
      return;
    }
    const my = ++seq;
    errBox.hidden = true;
    text(status, "running…");
    btn.disabled = true;
    if (current) {
      current.destroy();
      const i = ctx.charts.indexOf(current);
      if (i >= 0) ctx.charts.splice(i, 1);
      current = null;
    }
    const end = Date.now() / 1000;
    const start = end - S.range;
    const step = stepFor(S.range, 500);
    const t0 = performance.now();
    const [inst, rng] = await Promise.allSettled([promQuery(expr, end, ctx.signal), promRange(expr, start, end, step, ctx.signal)]);
    if (ctx.dead || my !== seq) return;
    btn.disabled = false;
    text(status, "took " + Math.round(performance.now() - t0) + " ms");
    const errs = [];
    if (inst.status === "rejected") {
      errs.push(errText(inst.reason));
      set(tableBody, msg("No result.", "muted"));
    } else renderInstant(inst.value);
    if (rng.status === "rejected") {
      const m = errText(rng.reason);
      if (!errs.includes(m)) errs.push(m);
      empty(chart.body, "No chart: the range query failed.", "error");
    } else {
      const res = rng.value;
      if (!res.length) empty(chart.body, "No data for " + expr + " in this range");
      else {
        const shown = res.slice(0, MAX_SERIES);
        // legend labels: only what tells the series apart
        const common = {};
        if (shown.length > 1) {
          for (const [k, v] of Object.entries(shown[0].metric)) if (shown.every((r) => r.metric[k] === v)) common[k] = v;
        }
        const short = (m) => {
          const o = {};
          for (const k in m) if (!(k in common)) o[k] = m[k];
          if (m.__name__ && !("__name__" in o) && Object.keys(o).length === 0) o.__name__ = m.__name__;
          const s = labelsOf(o);
          return s.length > 90 ? s.slice(0, 89) + "…" : s;
        };
        current = draw(
          ctx,
          chart.body,
          {
            id: "query-chart",
            series: shown.map((r) => ({ label: short(r.metric) })),
            data: align(shown),
            fmt: (v) => fmtVal(v),
            xmin: start,
            xmax: end,
            height: 280,
          },
          expr
        );
        if (res.length > MAX_SERIES) chart.body.prepend(h("div", { class: "note" }, "Showing the first " + MAX_SERIES + " of " + res.length + " series."));
      }
    }
    if (errs.length) {
      errBox.hidden = false;
      set(errBox, h("b", null, "Error: "), errs.join("\n"));
    }
    ctx.ready();
  }

  function renderInstant(d) {
    const rows = [];
    if (d.resultType === "vector") {
      for (const r of d.result) rows.push([labelsOf(r.metric), fmtVal(r.value[1])]);
    } else if (d.resultType === "matrix") {
      for (const r of d.result) {
        const last = r.values[r.values.length - 1];
        rows.push([labelsOf(r.metric), (last ? fmtVal(last[1]) : "–") + " (" + r.values.length + " samples)"]);
      }
    } else if (d.resultType === "scalar" || d.resultType === "string") {
      rows.push(["(" + d.resultType + ")", d.resultType === "scalar" ? fmtVal(d.result[1]) : String(d.result[1])]);
    }
    text(tableBody.parentNode.querySelector("#query-time"), "at " + fmtDateTime(new Date()));
    if (!rows.length) return set(tableBody, msg("The query returned no series.", "muted"));
    set(
      tableBody,
      h(
        "table",
        { class: "tbl compact query-table" },
        h("thead", null, h("tr", null, h("th", null, "Series"), h("th", { class: "num" }, "Value"))),
        h("tbody", null, rows.slice(0, 1000).map(([l, v]) => h("tr", null, h("td", { class: "mono" }, l), h("td", { class: "num mono" }, v))))
      )
    );
  }

  btn.addEventListener("click", () => ctx.guard(run()));
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      ctx.guard(run());
    }
  });
  if (q.get("expr")) ctx.guard(run());
  else ctx.ready();
  ta.focus();
  return {};
}

function history_replace(hash) {
  try {
    window.history.replaceState(null, "", hash);
  } catch (e) {
    /* ignore */
  }
}
