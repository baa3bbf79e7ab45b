// Processes: every process (api/ui/processes, refreshed every 5 s while
// visible), sortable, filterable and optionally grouped by training job.
import { S, h, set, text, fmtBytes, fmtRate, fmtPct, fmtNum, fmtTime, num, getJSON, remote, errText } from "./core.js";

const COLS = [
  ["pid", "PID", "num"],
  ["user", "User", ""],
  ["command", "Command", ""],
  ["cpu_percent", "CPU %", "num"],
  ["resident_bytes", "RSS", "num"],
  ["gpu_memory_bytes", "GPU memory", "num"],
  ["read_bytes_per_second", "Read", "num"],
  ["write_bytes_per_second", "Write", "num"],
  ["threads", "Threads", "num"],
  ["job", "Job", ""],
];
const MAX_ROWS = 2000;

const cell = {
  pid: (p) => String(p.pid),
  user: (p) => p.user || "",
  command: (p) => p.command || "",
  cpu_percent: (p) => fmtPct(p.cpu_percent),
  resident_bytes: (p) => fmtBytes(p.resident_bytes),
  gpu_memory_bytes: (p) => (num(p.gpu_memory_bytes) > 0 ? fmtBytes(p.gpu_memory_bytes) : "–"),
  read_bytes_per_second: (p) => (p.read_bytes_per_second != null ? fmtRate(p.read_bytes_per_second) : "–"),
  write_bytes_per_second: (p) => (p.write_bytes_per_second != null ? fmtRate(p.write_bytes_per_second) : "–"),
  threads: (p) => fmtNum(p.threads),
  job: (p) => p.job_name || p.job || "",
};

function sortVal(p, k) {
  if (k === "job") return (p.job_name || p.job || "").toLowerCase();
  const v = p[k];
  if (typeof v === "string") return v.toLowerCase();
  return v == null ? -Infinity : num(v);
}

function store(k, v) {
  try {
    if (v === undefined) return localStorage.getItem("trainwatch.proc." + k);
    localStorage.setItem("trainwatch.proc." + k, v);
  } catch (e) {
    return null;
  }
}

export function processes(ctx) {
  const root = ctx.root;
  let sortKey = store("sort") || "cpu_percent";
  let sortDir = store("dir") === "1" ? 1 : -1;
  let group = store("group") === "1";
  let rows = null;
  let jobs = [];
  // The full list only comes from this agent's own process collector.
  const procOff = !!(S.config && S.config.processes === false);
  let fallback = remote() || procOff;
  let updated = null;
  let loadErr = "";

  const filter = h("input", { id: "proc-filter", type: "search", placeholder: "Filter by command, user, PID or job", autocomplete: "off", spellcheck: "false" });
  const groupBox = h("input", { type: "checkbox", id: "proc-group", checked: group });
  const info = h("span", { class: "muted small" });
  const note = h("div", { class: "note" });
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { id: "proc-table", class: "tbl proc-table" }, thead, tbody);
  root.append(
    h("div", { class: "page-head" }, h("h1", null, "Processes"), info),
    h("div", { class: "toolbar" }, filter, h("label", { class: "check" }, groupBox, " Group by job")),
    note,
    h("div", { class: "table-wrap card" }, table)
  );

  function head() {
    set(
      thead,
      h(
        "tr",
        null,
        COLS.map(([k, label, cls]) =>
          h(
            "th",
            {
              class: "sortable " + cls + (k === sortKey ? " sorted" : ""),
              "data-key": k,
              "aria-sort": k === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none",
              title: "Sort by " + label,
              onclick: () => {
                if (sortKey === k) sortDir = -sortDir;
                else {
                  sortKey = k;
                  sortDir = cls === "num" && k !== "pid" ? -1 : 1;
                }
                store("sort", sortKey);
                store("dir", sortDir > 0 ? "1" : "-1");
                head();
                body();
              },
            },
            label,
            k === sortKey ? (sortDir > 0 ? " ▲" : " ▼") : ""
          )
        )
      )
    );
  }

  function matches(p, terms) {
    if (!terms.length) return true;
    const hay = (p.pid + " " + (p.command || "") + " " + (p.cmdline || "") + " " + (p.user || "") + " " + (p.job || "") + " " + (p.job_name || "")).toLowerCase();
    return terms.every((t) => hay.includes(t));
  }

  function tr(p) {
    return h(
      "tr",
      { "data-pid": String(p.pid) },
      COLS.map(([k, , cls]) => {
        const td = h("td", { class: cls + (k === "command" ? " mono cmd" : "") }, cell[k](p));
        if (k === "command" && p.cmdline) td.title = p.cmdline;
        return td;
      })
    );
  }

  function body() {
    if (!rows) return;
    const terms = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const vis = rows.filter((p) => matches(p, terms));
    const cmp = (a, b) => {
      const x = sortVal(a, sortKey),
        y = sortVal(b, sortKey);
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir || a.pid - b.pid;
    };
    vis.sort(cmp);
    const out = [];
    let n = 0;
    if (group) {
      const by = new Map();
      for (const p of vis) {
        const k = p.job || "";
        if (!by.has(k)) by.set(k, []);
        by.get(k).push(p);
      }
      const keys = [...by.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : sumOf(by.get(b), "gpu_memory_bytes") - sumOf(by.get(a), "gpu_memory_bytes") || sumOf(by.get(b), "cpu_percent") - sumOf(by.get(a), "cpu_percent")));
      for (const k of keys) {
        const ps = by.get(k);
        const j = jobs.find((x) => x.id === k);
        const name = k ? (j && j.name) || ps[0].job_name || k : "No job";
        out.push(
          h(
            "tr",
            { class: "group-row", "data-job": k },
            h(
              "td",
              { colspan: "3" },
              h("b", null, name),
              k ? h("span", { class: "muted small" }, " " + k + (j && j.launcher ? " · " + j.launcher : "") + (j && j.user ? " · " + j.user : "") + (j && j.gpus && j.gpus.length ? " · GPUs " + j.gpus.join(",") : "")) : null,
              h("span", { class: "muted small" }, " · " + ps.length + " process" + (ps.length === 1 ? "" : "es"))
            ),
            h("td", { class: "num" }, fmtPct(sumOf(ps, "cpu_percent"))),
            h("td", { class: "num" }, fmtBytes(sumOf(ps, "resident_bytes"))),
            h("td", { class: "num" }, sumOf(ps, "gpu_memory_bytes") > 0 ? fmtBytes(sumOf(ps, "gpu_memory_bytes")) : "–"),
            h("td", { class: "num" }, fmtRate(sumOf(ps, "read_bytes_per_second"))),
            h("td", { class: "num" }, fmtRate(sumOf(ps, "write_bytes_per_second"))),
            h("td", { class: "num" }, fmtNum(sumOf(ps, "threads"))),
            h("td")
          )
        );
        for (const p of ps) {
          if (n++ >= MAX_ROWS) break;
          out.push(tr(p));
        }
      }
    } else {
      for (const p of vis) {
        if (n++ >= MAX_ROWS) break;
        out.push(tr(p));
      }
    }
    if (!vis.length) out.push(h("tr", null, h("td", { colspan: String(COLS.length), class: "msg muted" }, rows.length ? "No process matches “" + filter.value + "”." : "No processes.")));
    if (vis.length > MAX_ROWS) out.push(h("tr", null, h("td", { colspan: String(COLS.length), class: "muted" }, vis.length - MAX_ROWS + " more not shown; narrow the filter.")));
    set(tbody, out);
    text(info, (vis.length === rows.length ? rows.length + " processes" : vis.length + " of " + rows.length + " processes") + (updated ? " · updated " + fmtTime(updated) : ""));
    ctx.ready();
  }

  function fromSnapshot() {
    const host = S.last && S.last.host;
    if (!host) return false;
    rows = (host.processes || []).map((p) => Object.assign({}, p));
    const byJob = new Map();
    for (const j of host.jobs || []) byJob.set(j.root_pid, j);
    jobs = host.jobs || [];
    updated = host.time ? new Date(host.time) : new Date();
    const why = procOff ? "the process collector is off on this agent" : remote() ? "it is only served by the host's own agent" : loadErr;
    text(note, (why ? "The full process list is unavailable (" + why + "). " : "") + "Showing the top " + rows.length + " processes from the latest snapshot.");
    body();
    return true;
  }

  async function load() {
    if (fallback) return fromSnapshot();
    try {
      const r = await getJSON("api/ui/processes", ctx.signal);
      if (ctx.dead) return;
      rows = r.processes || [];
      jobs = r.jobs || [];
      updated = r.time ? new Date(r.time) : new Date();
      text(note, "");
      body();
    } catch (e) {
      if (ctx.dead || (e && e.name === "AbortError")) return;
      fallback = true;
      loadErr = errText(e);
      if (!fromSnapshot()) text(note, "The full process list is unavailable (" + loadErr + "); waiting for a snapshot…");
    }
  }

  filter.addEventListener("input", body);
  groupBox.addEventListener("change", () => {
    group = groupBox.checked;
    store("group", group ? "1" : "0");
    body();
  });
  head();
  set(tbody, h("tr", null, h("td", { colspan: String(COLS.length), class: "msg muted waiting" }, "Loading…")));
  ctx.guard(load());
  ctx.every(5000, () => ctx.guard(load()));

  return {
    update() {
      if (fallback && !rows) fromSnapshot();
    },
  };
}

function sumOf(ps, k) {
  let s = 0;
  for (const p of ps) s += num(p[k]) || 0;
  return s;
}
