// Alerts: active (live from the stream), recently resolved (ALERTS history)
// and the rules with their health.
import {
  S, h, set, fmtAgo, fmtDateTime, fmtDur, fmtVal, esc, reEsc, getJSON, promBase, promRange, stepFor,
  interval, history, HISTORY_OFF, badge, statusBadge, msg, card, errText, remote,
} from "./core.js";

// alertIntervals reads ALERTS{alertstate="firing"} over [start, end] and
// turns each series' runs of samples into {name, labels, start, end, ongoing}.
export async function alertIntervals(start, end, signal) {
  const step = stepFor(end - start, 1000);
  const res = await promRange('ALERTS{alertstate="firing",instance=~"' + esc(reEsc(S.instance)) + '|"}', start, end, step, signal);
  const out = [];
  for (const r of res) {
    let cur = null;
    for (const [t] of r.values) {
      if (cur && t - cur.end <= step * 1.5) cur.end = t;
      else {
        if (cur) out.push(cur);
        cur = { name: r.metric.alertname || "?", labels: r.metric, start: t, end: t };
      }
    }
    if (cur) out.push(cur);
  }
  for (const x of out) x.ongoing = end - x.end <= step * 1.5 + interval();
  out.sort((a, b) => b.start - a.start);
  return out;
}

const HIDE = new Set(["__name__", "alertname", "alertstate", "instance", "job", "severity", "UUID", "DCGM_FI_DRIVER_VERSION", "Hostname", "modelName", "pci_bus_id"]);

export function labelChips(labels) {
  return Object.entries(labels || {})
    .filter(([k]) => !HIDE.has(k))
    .map(([k, v]) => h("span", { class: "chip" }, k + "=" + v));
}

export function intervalsTable(xs, emptyText) {
  if (!xs.length) return msg(emptyText, "muted ok-text");
  return h(
    "div",
    { class: "table-wrap" },
    h(
    "table",
    { class: "tbl compact" },
    h("thead", null, h("tr", null, ["Alert", "Severity", "Labels", "Started", "Ended", "Duration"].map((x) => h("th", null, x)))),
    h(
      "tbody",
      null,
      xs.map((x) =>
        h(
          "tr",
          null,
          h("td", null, h("b", null, x.name)),
          h("td", null, x.labels.severity || ""),
          h("td", null, labelChips(x.labels)),
          h("td", null, fmtDateTime(x.start * 1000)),
          h("td", null, x.ongoing ? badge("firing", "bad") : fmtDateTime(x.end * 1000)),
          h("td", { class: "num" }, fmtDur(x.end - x.start))
        )
      )
    )
    )
  );
}

function fromProm(a) {
  return {
    name: a.labels.alertname,
    state: a.state,
    severity: a.labels.severity || "",
    summary: (a.annotations || {}).summary || "",
    description: (a.annotations || {}).description || "",
    labels: a.labels,
    value: a.value,
    active_at: a.activeAt,
  };
}

export function alertsPage(ctx) {
  const root = ctx.root;
  const activeBody = h("div");
  const resolvedBody = h("div", null, msg("Loading…", "muted"));
  const rulesBody = h("div", null, msg("Loading…", "muted"));
  const alerting = !S.config || S.config.alerting !== false;
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Alerts")),
    card("Firing and pending", activeBody),
    card("Resolved in the last " + rangeName(), resolvedBody),
    card("Rules", rulesBody)
  );
  let pending = 2;
  const done = () => {
    if (--pending <= 0) ctx.ready();
  };

  let key = "";
  function renderActive(as) {
    const k = JSON.stringify(as);
    if (k === key) return;
    key = k;
    if (!alerting) return set(activeBody, msg("Alerting is off on this agent.", "muted"));
    if (!as.length) return set(activeBody, msg("No alerts are firing or pending.", "muted ok-text"));
    set(
      activeBody,
      h(
        "div",
        { class: "table-wrap" },
        h(
        "table",
        { class: "tbl alerts-table" },
        h("thead", null, h("tr", null, ["State", "Alert", "Severity", "Summary", "Value", "Active since"].map((x) => h("th", null, x)))),
        h(
          "tbody",
          null,
          as.map((a) =>
            h(
              "tr",
              { class: "alert-" + a.state },
              h("td", null, statusBadge(a.state)),
              h("td", null, h("b", null, a.name), h("div", null, labelChips(a.labels))),
              h("td", null, a.severity ? badge(a.severity, a.severity === "critical" ? "bad" : a.severity === "warning" ? "warn" : "") : ""),
              h("td", null, a.summary || "", a.description ? h("details", null, h("summary", null, "Description"), h("p", { class: "desc" }, a.description)) : null),
              h("td", { class: "num mono" }, fmtVal(a.value)),
              h("td", { title: a.active_at ? fmtDateTime(a.active_at) : "" }, a.active_at ? fmtAgo(a.active_at) : "–")
            )
          )
        )
        )
      )
    );
  }

  if (S.last) renderActive(S.last.alerts || []);
  else if (alerting && !remote()) {
    ctx.guard(
      getJSON("api/v1/alerts", ctx.signal).then((r) => {
        if (!S.last) renderActive(((r.data && r.data.alerts) || []).map(fromProm));
      }),
      (e) => set(activeBody, msg("Cannot read api/v1/alerts: " + errText(e), "error"))
    );
  }

  if (!history()) {
    set(resolvedBody, msg(HISTORY_OFF, "empty"));
    done();
  } else {
    const end = Date.now() / 1000;
    ctx.guard(
      alertIntervals(end - S.range, end, ctx.signal).then((xs) => {
        set(resolvedBody, intervalsTable(xs.filter((x) => !x.ongoing), "No alert fired and resolved in this range."));
      }),
      (e) => set(resolvedBody, msg("History query failed: " + errText(e), "error"))
    ).then(done);
  }

  if (!alerting) {
    set(rulesBody, msg("Alerting is off on this agent.", "muted"));
    done();
  } else {
    ctx.guard(
      getJSON(promBase() + "rules", ctx.signal).then((r) => {
        const groups = (r.data && r.data.groups) || [];
        const rows = [];
        for (const g of groups) {
          for (const rule of g.rules || []) {
            if (rule.type && rule.type !== "alerting") continue;
            rows.push(
              h(
                "tr",
                null,
                h("td", { class: "muted small" }, g.name),
                h("td", null, h("b", null, rule.name)),
                h("td", null, rule.labels && rule.labels.severity ? rule.labels.severity : ""),
                h("td", null, rule.state === "inactive" ? h("span", { class: "muted" }, "inactive") : statusBadge(rule.state)),
                h("td", null, badge(rule.health || "unknown", rule.health === "ok" ? "ok" : rule.health === "err" ? "bad" : "")),
                h("td", { class: "err-text" }, rule.lastError || ""),
                h("td", null, h("code", { class: "expr" }, rule.query || ""))
              )
            );
          }
        }
        set(
          rulesBody,
          rows.length
            ? h(
                "div",
                { class: "table-wrap" },
                h("table", { class: "tbl compact rules-table" }, h("thead", null, h("tr", null, ["Group", "Rule", "Severity", "State", "Health", "Last error", "Query"].map((x) => h("th", null, x)))), h("tbody", null, rows))
              )
            : msg("No alerting rules are loaded.", "muted")
        );
      }),
      (e) => set(rulesBody, msg("Cannot read the rules: " + errText(e), "error"))
    ).then(done);
  }

  return {
    update(d, render) {
      if (render) renderActive(d.alerts || []);
    },
  };
}

function rangeName() {
  const s = S.range;
  return s >= 86400 ? s / 86400 + (s === 86400 ? " day" : " days") : s >= 3600 ? s / 3600 + (s === 3600 ? " hour" : " hours") : s / 60 + " minutes";
}
