// Draws the report from the JSON in #report-data with Chart.js (charts) and
// table.js (tables).  Every string from the data (task ids, candidates' code,
// details) reaches the page as text, never as markup: candidates are hostile.
"use strict";
(function () {
  const started = performance.now();
  const status = document.getElementById("report-status");
  const errors = [];
  const noteError = (message) => {
    errors.push(String(message));
    status.dataset.errors = String(errors.length);
    document.getElementById("report-errors").textContent = errors.join("\n");
  };
  window.addEventListener("error", (event) => noteError(event.message));
  const consoleError = console.error.bind(console);
  console.error = (...args) => { noteError(args.join(" ")); consoleError(...args); };

  const data = JSON.parse(document.getElementById("report-data").textContent);
  const runs = data.runs;
  const palette = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  const outcomeColors = {
    passed: "#16a34a", failed: "#dc2626", error: "#f97316", syntax_error: "#a855f7", timeout: "#eab308",
    memory_exceeded: "#0ea5e9", infra_error: "#6b7280", problem_error: "#94a3b8", truncated: "#cbd5e1",
  };
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%");
  const ms = (v) => (v === null || v === undefined ? "–" : (1000 * v).toFixed(1) + " ms");
  const mb = (v) => (v === null || v === undefined ? "–" : (v / 1048576).toFixed(1) + " MB");
  const el = reportTable.el;

  // ---- summary cards
  const cards = document.getElementById("cards");
  runs.forEach((run, i) => {
    const verdicts = run.problems.reduce((a, p) => a + p.n, 0);
    const passed = run.problems.reduce((a, p) => a + p.passed, 0);
    const infra = run.outcomes.infra_error || 0;
    const k = Object.keys(run.pass_at_k);
    const last = k.length ? k[k.length - 1] : null;
    cards.append(el("div", { className: "card" },
      el("div", { className: "card-title", textContent: run.label }),
      el("div", { className: "card-source", textContent: run.source }),
      el("div", { className: "big", textContent: pct(run.pass_at_k["1"]) }),
      el("div", { className: "muted", textContent: "pass@1" + (last && last !== "1" ? ` · pass@${last} ${pct(run.pass_at_k[last])}` : "") }),
      el("div", { className: "facts", textContent:
        `${run.n_candidates.toLocaleString()} candidates · ${run.problems.length} problems · ` +
        `${passed.toLocaleString()}/${verdicts.toLocaleString()} passed · ${run.flaky_programs} flaky · ${infra} infra errors` }),
    ));
    cards.lastChild.style.borderTopColor = palette[i % palette.length];
  });

  if (data.deltas.length) {  // what changed, first run to last
    const first = runs[0], last = runs[runs.length - 1];
    const ks = Object.keys(first.pass_at_k).filter((k) => last.pass_at_k[k] != null && first.pass_at_k[k] != null
                                                        && [1, 2, 5, 10, 20, 50, 100].includes(Number(k)));
    const count = (s) => data.deltas.filter((d) => d.status === s).length;
    cards.append(el("div", { className: "card change" },
      el("div", { className: "card-title", textContent: `${first.label} → ${last.label}` }),
      el("div", { className: "big", textContent: `+${count("gained")} / −${count("lost")}` }),
      el("div", { className: "muted", textContent: "problems gained / lost" }),
      el("div", { className: "facts", textContent: ks.map((k) => {
        const d = 100 * (last.pass_at_k[k] - first.pass_at_k[k]);
        return `pass@${k} ${d >= 0 ? "+" : ""}${d.toFixed(1)} pts`;
      }).join(" · ") + ` · ${count("better")} better, ${count("worse")} worse` }),
    ));
  }

  // ---- charts
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  const charts = [];
  const chart = (title, config) => {
    const canvas = el("canvas");
    document.getElementById("charts").append(el("figure", { className: "chart" },
      el("figcaption", { textContent: title }), el("div", { className: "chart-box" }, canvas)));
    config.options = Object.assign({ responsive: true }, config.options || {});
    charts.push(new Chart(canvas, config));
  };
  const maxK = Math.max(0, ...runs.map((r) => Object.keys(r.pass_at_k).length));
  const ks = Array.from({ length: maxK }, (_, i) => String(i + 1));
  chart("pass@k as k grows", {
    type: "line",
    data: { labels: ks, datasets: runs.map((run, i) => ({
      label: run.label, data: ks.map((k) => run.pass_at_k[k] ?? null), borderColor: palette[i % palette.length],
      backgroundColor: palette[i % palette.length], tension: 0.2, pointRadius: 2 })) },
    options: { scales: { y: { min: 0, max: 1, title: { display: true, text: "pass@k" } },
                         x: { title: { display: true, text: "k" } } } },
  });
  const outcomeNames = Object.keys(outcomeColors).filter((o) => runs.some((r) => r.outcomes[o]));
  chart("Outcomes", {
    type: "bar",
    data: { labels: runs.map((r) => r.label), datasets: outcomeNames.map((o) => ({
      label: o, data: runs.map((r) => r.outcomes[o] || 0), backgroundColor: outcomeColors[o] })) },
    options: { indexAxis: "y", scales: { x: { stacked: true, title: { display: true, text: "candidates" } },
                                         y: { stacked: true } } },
  });
  const histogram = (title, key, axis, xTitle) => {
    // every run has the same bins: keep the span where some run has counts
    const used = runs[0][key].counts.map((_, b) => runs.some((r) => r[key].counts[b] > 0));
    let first = used.indexOf(true), last = used.lastIndexOf(true);
    if (first < 0) { first = 0; last = 0; }
    chart(title, {
      type: "bar",
      data: { labels: runs[0][key].labels.slice(first, last + 1), datasets: runs.map((run, i) => ({
        label: run.label, data: run[key].counts.slice(first, last + 1), backgroundColor: palette[i % palette.length] })) },
      options: { scales: { y: { title: { display: true, text: axis } },
                           x: { title: { display: !!xTitle, text: xTitle || "" } } } },
    });
  };
  histogram("Problems by pass rate", "pass_rate_histogram", "problems", "share of a problem's candidates that pass");
  histogram("CPU time of passing candidates", "cpu_histogram", "candidates", "CPU time, from (log bins)");
  histogram("Peak memory of passing candidates", "memory_histogram", "candidates", "peak memory, from (log bins)");
  const slowest = runs[0].problems.filter((p) => p.cpu_median_s !== null)
    .sort((a, b) => b.cpu_median_s - a.cpu_median_s).slice(0, 20);
  chart(`Slowest problems: median CPU time of passing candidates (${runs[0].label})`, {
    type: "bar",
    data: { labels: slowest.map((p) => p.task_id), datasets: [{
      label: "median CPU (ms)", data: slowest.map((p) => 1000 * p.cpu_median_s), backgroundColor: palette[0] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } },
               scales: { x: { title: { display: true, text: "ms" } } } },
  });
  runs.filter((r) => r.curated).forEach((run) => chart(`Runtime against length, kept candidates marked (${run.label})`, {
    type: "scatter",
    data: { datasets: [
      { label: "passing program", data: run.scatter.filter((p) => !p[2]).map((p) => ({ x: p[0], y: 1000 * p[1] })),
        backgroundColor: "rgba(100,116,139,0.45)", pointRadius: 2 },
      { label: "kept", data: run.scatter.filter((p) => p[2]).map((p) => ({ x: p[0], y: 1000 * p[1] })),
        backgroundColor: "#16a34a", pointRadius: 3.5 },
    ] },
    options: { scales: { x: { title: { display: true, text: "code length (chars)" } },
                         y: { type: "logarithmic", title: { display: true, text: "CPU time (ms)" } } } },
  }));
  if (data.deltas.length) {
    const statuses = ["gained", "better", "same", "worse", "lost", "missing"];
    const counts = statuses.map((s) => data.deltas.filter((d) => d.status === s).length);
    chart(`Per-problem change, ${runs[0].label} → ${runs[runs.length - 1].label}`, {
      type: "bar",
      data: { labels: statuses, datasets: [{ label: "problems", data: counts,
        backgroundColor: ["#16a34a", "#86efac", "#cbd5e1", "#fca5a5", "#dc2626", "#94a3b8"] }] },
      options: { plugins: { legend: { display: false } } },
    });
  }

  // ---- per-problem table
  // Maps, not objects: a task id may be "constructor" or "__proto__"
  const byTask = runs.map((run) => new Map(run.problems.map((p) => [p.task_id, p])));
  const deltas = new Map(data.deltas.map((d) => [d.task_id, d]));
  const shownOf = (run, taskId) => (Object.hasOwn(run.candidates, taskId) ? run.candidates[taskId] : []);
  const tasks = [...new Set(runs.flatMap((run) => run.problems.map((p) => p.task_id)))];
  const outcomeText = (p) => (p ? Object.entries(p.outcomes).map(([o, c]) => `${o} ${c}`).join(", ") : "");
  const rows = tasks.map((t) => {
    const p = byTask[0].get(t) || byTask.find((b) => b.has(t)).get(t);
    const row = [t, p.n, p.passed, p.pass_at_1, outcomeText(p), p.first_failure, p.cpu_median_s,
                 p.memory_median_bytes, p.flaky ? "yes" : "", p.infra];
    if (data.deltas.length) {
      const d = deltas.get(t);
      row.push(...runs.slice(1).map((_, i) => (byTask[i + 1].get(t) || {}).pass_at_1 ?? null),
               d ? d.change : null, d ? d.status : "");
    }
    return row;
  });
  const columns = [
    { name: "problem" }, { name: "n" }, { name: "passed" },
    { name: data.deltas.length ? `pass@1 ${runs[0].label}` : "pass@1", format: pct },
    { name: "outcomes", compare: false }, { name: "first failure", compare: false, width: "24%" },
    { name: "median CPU", format: ms }, { name: "median memory", format: mb },
    { name: "flaky" }, { name: "infra" },
  ];
  if (data.deltas.length) {
    columns.push(...runs.slice(1).map((r) => ({ name: `pass@1 ${r.label}`, format: pct })),
                 { name: "Δ pass@1", format: (v) => (v === null ? "–" : (v > 0 ? "+" : "") + (100 * v).toFixed(1)) },
                 { name: "change" });
  }
  const filters = {
    "all": () => true,
    "failed only": (r) => r[3] !== null && r[3] < 1,
    "never passed": (r) => r[2] === 0,
    "flaky only": (r) => r[8] === "yes",
    "infra errors": (r) => r[9] > 0,
  };
  if (data.deltas.length) {
    filters["gained"] = (r) => r[r.length - 1] === "gained";
    filters["lost"] = (r) => r[r.length - 1] === "lost";
  }
  // ---- drill-down: a problem's candidates, their verdicts and code
  const detail = document.getElementById("candidates");
  const candidateTable = (run, i, taskId) => {
    const shown = shownOf(run, taskId);
    const p = byTask[i].get(taskId);
    const hidden = Object.values(p.outcomes).reduce((a, c) => a + c, 0) - shown.length;
    detail.append(el("p", { className: "muted", textContent:
      `${run.label}: ${p.passed}/${p.n} passed` + (hidden > 0 ? ` · showing ${shown.length} (each outcome's first, then in order); ${hidden} more in ${run.source}` : "") }));
    const box = el("div");
    detail.append(box);
    reportTable(box, [
      { name: "row" }, { name: "outcome" }, { name: "CPU", format: ms }, { name: "memory", format: mb },
      { name: "length" }, { name: "kept" }, { name: "detail", width: "30%" },
      { name: "code", compare: false, format: (code) =>
        el("details", {}, el("summary", { textContent: `${code.split("\n").length} lines` }), el("pre", { textContent: code })) },
    ], { rows: shown.map((c) => [c.index, c.outcome, c.cpu_time_s, c.peak_memory_bytes, c.code_length,
                                 c.kept ? "kept" : "", c.detail, c.code]), limit: 12 });
  };
  const showCandidates = (taskId) => {
    detail.replaceChildren(el("h3", { textContent: `Candidates of ${taskId}` }));
    runs.forEach((run, i) => { if (byTask[i].has(taskId)) candidateTable(run, i, taskId); });
    detail.scrollIntoView({ block: "start" });
  };

  const table = reportTable(document.getElementById("problems"), columns, {
    rows, search: true, limit: 25, className: "problems", onRowClick: (row) => showCandidates(row[0]),
  });
  const bar = document.getElementById("filters");
  Object.keys(filters).forEach((name) => {
    const count = rows.filter(filters[name]).length;
    const button = el("button", { type: "button", textContent: `${name} (${count})` });
    button.dataset.filter = name;
    if (name === "all") button.classList.add("active");
    button.addEventListener("click", () => {
      bar.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === button));
      table.setRows(rows.filter(filters[name]));
    });
    bar.append(button);
  });

  // ---- the linked problem's candidates (report.html#problem=HumanEval%2F32),
  // then what a test (or a curious user) can read back
  const linked = new URLSearchParams(location.hash.slice(1)).get("problem");
  if (linked && tasks.includes(linked)) showCandidates(linked);
  const drawn = charts.filter((c) => {
    const pixels = c.canvas.getContext("2d").getImageData(0, 0, c.canvas.width, c.canvas.height).data;
    for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
    return false;
  }).length;
  status.dataset.charts = String(charts.length);
  status.dataset.drawn = String(drawn);
  status.dataset.rows = String(rows.length);
  status.dataset.ms = String(Math.round(performance.now() - started));
  status.dataset.state = "done";
})();
