// The sslab dashboard: a single page over the scheduler's read-only JSON API
// (/api/v1), with Chart.js (served from /vendor, no CDN).
//
// Pages (hash routes): #/runs, #/runs/ID, #/sweeps, #/sweeps/ID, #/workers.
// For tests and scripts the page exposes its state in the DOM: #app gets
// data-page and data-ready="1" once rendered, #errors data-count with every
// failed request or script error, each chart canvas data-points (the number
// of points drawn) and every runs-table row the class "run-row".
"use strict";

const app = document.getElementById("app");
const errorsBox = document.getElementById("errors");
const REFRESH_MS = 5000;
let charts = [];
let refreshTimer = null;

// ---- errors -------------------------------------------------------------

function reportError(message) {
  const line = document.createElement("div");
  line.textContent = message;
  errorsBox.appendChild(line);
  errorsBox.dataset.count = String(errorsBox.childElementCount);
}
window.addEventListener("error", (e) => reportError("script error: " + e.message));
window.addEventListener("unhandledrejection", (e) =>
  reportError("error: " + (e.reason && e.reason.message ? e.reason.message : e.reason)));

// A scheduler started with client tokens answers 401 without one: ask once,
// keep it in this browser (localStorage), send it with every request.
const TOKEN_KEY = "sslab-client-token";

async function api(path) {
  const sent = localStorage.getItem(TOKEN_KEY);
  let response = await fetchWithToken(path, sent);
  if (response.status === 401) {
    // Requests failing together ask once: the prompt is modal, and those
    // answered after it see the new token and just retry.
    if (localStorage.getItem(TOKEN_KEY) === sent) {
      const token = window.prompt("This sslab scheduler needs a client token:");
      if (token) localStorage.setItem(TOKEN_KEY, token.trim());
    }
    const now = localStorage.getItem(TOKEN_KEY);
    if (now !== sent) response = await fetchWithToken(path, now);
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || {};
    throw new Error(`${path}: ${error.code || response.status} ${error.message || ""}`);
  }
  return body;
}

// Every row of a paged list: follows next_page_token to the last page.
async function apiAll(path, field) {
  const rows = [];
  let token = "";
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(`${path}${sep}page_size=1000` +
      (token ? `&page_token=${encodeURIComponent(token)}` : ""));
    rows.push(...(page[field] || []));
    token = page.next_page_token || "";
  } while (token);
  return rows;
}

function fetchWithToken(path, token) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  return fetch("/api/v1" + path, { headers });
}

// ---- small helpers -------------------------------------------------------

const PROTO_PREFIXES = ["METHOD_", "ARCHITECTURE_", "RUN_STATE_", "JOB_STATE_",
  "JOB_KIND_", "PROBE_KIND_", "DATASET_KIND_", "DEVICE_KIND_"];

// "METHOD_RELATIVE_PATCH_LOCATION" -> "relative_patch_location".
function short(name) {
  if (!name) return "";
  for (const p of PROTO_PREFIXES) {
    if (name.startsWith(p)) return name.slice(p.length).toLowerCase();
  }
  return String(name).toLowerCase();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "html") node.innerHTML = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.appendChild(typeof c === "string" || typeof c === "number"
      ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function link(href, text) { return el("a", { href }, text); }
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1); }
function num(x) { return Number(x || 0); }

function duration(seconds) {
  if (!isFinite(seconds) || seconds <= 0) return "";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function when(timestamp) {
  if (!timestamp) return "";
  return new Date(timestamp).toISOString().replace("T", " ").slice(0, 19);
}

function stateCell(state) {
  const s = short(state);
  return el("td", { class: `state state-${s}` }, s);
}

function progressBar(fraction) {
  const f = Math.max(0, Math.min(1, fraction || 0));
  const bar = el("span", { class: "bar" }, el("span"));
  bar.firstChild.style.width = `${(100 * f).toFixed(0)}%`;
  return bar;
}

function table(columns, rows, rowClass) {
  return el("table", {},
    el("thead", {}, el("tr", {}, columns.map((c) =>
      el("th", { class: c.num ? "num" : "" }, c.title)))),
    el("tbody", {}, rows.map((r) => el("tr", { class: rowClass || "" },
      r.map((cell, i) => cell instanceof Node && cell.tagName === "TD" ? cell
        : el("td", { class: columns[i].num ? "num" : "" }, cell))))));
}

// ---- charts ---------------------------------------------------------------

const PALETTE = ["#2f6fdf", "#d9534f", "#1d8a4e", "#b7791f", "#7b4fd6",
  "#0f8b8d", "#c2417d", "#5a6270"];

// A Chart.js chart in a card; records how many points it drew.
function chartCard(title, config) {
  const canvas = el("canvas");
  const card = el("div", { class: "card" }, el("h3", {}, title), canvas);
  const points = config.data.datasets.reduce((n, d) =>
    n + d.data.filter((p) => p !== null && p !== undefined &&
      (typeof p !== "object" || p.y !== null)).length, 0);
  config.options = Object.assign({
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
  }, config.options || {});
  // Drawn after the card is in the document (Chart.js measures it).
  card.draw = () => {
    charts.push(new Chart(canvas.getContext("2d"), config));
    canvas.dataset.points = String(points);
  };
  return card;
}

function drawCharts(container) {
  for (const card of container.querySelectorAll(".card")) {
    if (card.draw) card.draw();
  }
}

function clearPage(page) {
  for (const c of charts) c.destroy();
  charts = [];
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  app.dataset.page = page;
}

function finish(content, refresh) {
  app.replaceChildren(...content);
  drawCharts(app);
  app.dataset.ready = "1";
  if (refresh) refreshTimer = setTimeout(route, REFRESH_MS);
}

// ---- results: the study's views -------------------------------------------

// Results of the last evaluated epoch at label fraction 1, by probe kind and
// layer: {val, test} top-1.
function layerScores(results) {
  let last = -1;
  for (const r of results) last = Math.max(last, num(r.epoch));
  const out = {};
  for (const r of results) {
    if (num(r.epoch) !== last || Number(r.label_fraction) !== 1) continue;
    const kind = short(r.probe_kind);
    out[kind] = out[kind] || {};
    const cell = out[kind][r.layer] = out[kind][r.layer] || {};
    cell[r.split] = r.top1;
  }
  return out;
}

// The layer the study would report: best on val (test when there is no
// val), excluding the raw-pixel baseline. {layer, test, val} or null.
function bestLayer(scoresByLayer) {
  let best = null;
  for (const [layer, s] of Object.entries(scoresByLayer || {})) {
    if (layer === "pixels") continue;
    const choice = s.val !== undefined ? s.val : s.test;
    if (choice === undefined) continue;
    if (!best || choice > best.choice) {
      best = { layer, choice, test: s.test !== undefined ? s.test : s.val };
    }
  }
  return best;
}

function preferredProbe(scores) {
  return scores.lbfgs ? "lbfgs" : Object.keys(scores)[0];
}

// ---- pages ----------------------------------------------------------------

async function runsPage() {
  clearPage("runs");
  const list = await api("/runs?page_size=100");
  const runs = list.runs || [];
  const best = {};
  await Promise.all(runs.filter((r) => num(r.progress && r.progress.jobs_succeeded) > 0)
    .map(async (r) => {
      const results = await apiAll(`/runs/${r.run_id}/results`, "results");
      const scores = layerScores(results);
      const b = bestLayer(scores[preferredProbe(scores)]);
      if (b) best[r.run_id] = b;
    }));
  const columns = [{ title: "Run" }, { title: "Name" }, { title: "State" },
    { title: "Method" }, { title: "Architecture" }, { title: "k", num: true },
    { title: "Progress" }, { title: "ETA" }, { title: "Jobs", num: true },
    { title: "Best layer (test top-1)" }];
  const rows = runs.map((r) => {
    const p = r.progress || {};
    const m = p.metrics || {};
    const b = best[r.run_id];
    const running = short(r.state) === "running";
    return [link(`#/runs/${r.run_id}`, r.run_id), r.name, stateCell(r.state),
      short(r.config.method), short(r.config.architecture), num(r.config.width),
      el("span", {}, progressBar(p.train_fraction), " ",
        `${Math.round(100 * (p.train_fraction || 0))}%`),
      running ? duration(m.eta_seconds) : "",
      `${num(p.jobs_succeeded) + num(p.jobs_failed) + num(p.jobs_cancelled)}/${num(p.jobs_total)}`,
      b ? `${b.layer} ${pct(b.test)}` : ""];
  });
  finish([el("h1", {}, "Runs"),
    runs.length ? table(columns, rows, "run-row") : el("div", { class: "empty" }, "No runs yet.")],
  true);
}

function trainingCurves(series) {
  const wanted = [["loss", "Loss"], ["pretext_top1", "Pretext accuracy"],
    ["learning_rate", "Learning rate"], ["images_per_second", "Images per second"]];
  const byName = {};
  for (const s of series) byName[s.name] = s.points || [];
  return wanted.filter(([name]) => (byName[name] || []).length > 0).map(([name, title], i) =>
    chartCard(title, {
      type: "line",
      data: {
        datasets: [{
          label: name,
          data: byName[name].map((p) => ({ x: num(p.step), y: p.value })),
          borderColor: PALETTE[i], backgroundColor: PALETTE[i],
          pointRadius: 0, borderWidth: 2,
        }],
      },
      options: { scales: { x: { type: "linear", title: { display: true, text: "step" } } } },
    }));
}

// One plot per probe kind: test top-1 by layer in network order, the
// raw-pixel baseline as a dashed line (the paper's layer plots).
function layerPlots(results, layers) {
  const scores = layerScores(results);
  const learned = layers.filter((l) => l !== "pixels");
  return Object.entries(scores).map(([kind, byLayer], i) => {
    const datasets = [{
      label: `${kind} test top-1 (%)`,
      data: learned.map((l) => byLayer[l] && byLayer[l].test !== undefined
        ? 100 * byLayer[l].test : null),
      borderColor: PALETTE[i], backgroundColor: PALETTE[i], tension: 0.2,
    }];
    if (byLayer.pixels && byLayer.pixels.test !== undefined) {
      datasets.push({
        label: "raw pixels",
        data: learned.map(() => 100 * byLayer.pixels.test),
        borderColor: "#8a8f99", borderDash: [6, 4], pointRadius: 0,
      });
    }
    return chartCard(`Accuracy by layer — ${kind}`, {
      type: "line", data: { labels: learned, datasets },
      options: { scales: { y: { grace: "10%", title: { display: true, text: "top-1 %" } } } },
    });
  });
}

// 1536 -> "1.5 KiB", as the CLI says it.
function humanBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n || 0);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// What a run's artifacts not yet deleted by retention take.
function diskText(d, pinned) {
  const ckpt = Number(d.checkpoint_bytes || 0);
  const feat = Number(d.feature_bytes || 0);
  return `${humanBytes(ckpt + feat)}: ${d.checkpoints || 0} checkpoints ` +
    `${humanBytes(ckpt)}, ${d.feature_shards || 0} feature shards ` +
    `${humanBytes(feat)}${pinned ? " (pinned)" : ""}`;
}

async function runPage(id) {
  clearPage("run");
  const [run, metrics, results, checkpoints] = await Promise.all([
    api(`/runs/${id}`), api(`/runs/${id}/metrics?max_points=500`),
    apiAll(`/runs/${id}/results`, "results"),
    apiAll(`/runs/${id}/checkpoints`, "checkpoints")]);
  const r = run.run;
  const c = r.config;
  const p = r.progress || {};
  const versions = Object.entries(r.versions || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  // What ran the jobs (each distinct worker build and device once), and
  // the data the training read.
  const jobLineage = (r.jobs || []).map((j) => j.lineage || {});
  const ranOn = [...new Set(jobLineage.filter((l) => l.worker).map((l) =>
    `${l.worker} on ${l.device}${l.data_parallel ? ` (${l.data_parallel})` : ""}` +
    `${l.host ? ` at ${l.host}` : ""}` +
    `${l.sslab ? `: sslab ${l.sslab}` : ""}` +
    `${l.git ? ` (git ${l.git})` : ""}${l.libtorch ? `, libtorch ${l.libtorch}` : ""}` +
    `${l.cuda ? `, cuda ${l.cuda}` : ""}${l.cudnn ? `, cudnn ${l.cudnn}` : ""}`))];
  const data = jobLineage.map((l) => l.dataset).find(Boolean) || "";
  const kv = (pairs) => el("dl", { class: "kv" },
    pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const lr = c.lr_schedule || {};
  const ev = c.evaluation || {};
  const info = el("div", { class: "grid" },
    el("div", { class: "card" }, el("h3", {}, "Run"), kv([
      ["state", stateCell(r.state).textContent], ["name", r.name],
      ["method", short(c.method)],
      ["architecture", `${short(c.architecture)} k=${c.width}${c.last_relu ? "" : " (-)"}`],
      ["dataset", `${short(c.dataset.kind)}:${c.dataset.path} (${c.dataset.image_size} px)`],
      ["training", `${c.epochs} epochs, batch ${c.batch_size}, lr ${lr.base_lr}, ` +
        `warm-up ${Number(lr.warmup_epochs).toFixed(2)}, decays at ` +
        `[${(lr.decay_epochs || []).map((d) => Number(d).toFixed(2)).join(", ")}]`],
      ["evaluation", `${(ev.layers || []).join(", ")}; ` +
        `${(ev.probe_kinds || []).map(short).join(", ")}`],
      ["progress", `${Math.round(100 * (p.train_fraction || 0))}%, epoch ${p.epoch || 0}, ` +
        `step ${p.step || 0}`],
      ["error", r.error || ""]])),
    el("div", { class: "card" }, el("h3", {}, "Lineage"), kv([
      ["created", when(r.create_time)], ["updated", when(r.update_time)],
      ["seed", c.seed], ["device", short(c.device) + (c.devices_per_run > 1 ?
        `, ${c.devices_per_run} data-parallel ranks` : "")], ["versions", versions],
      ["ran on", ranOn.join("; ")], ["data", data],
      ["checkpoints", String(checkpoints.length)],
      ["disk", diskText(r.disk || {}, r.pinned)]])));
  const jobs = (r.jobs || []).map((j) => [j.job_id, short(j.kind), stateCell(j.state),
    j.attempts || 0, j.layer || "", short(j.probe_kind),
    `${Math.round(100 * (j.progress || 0))}%`, j.lease_device || "", j.error || ""]);
  const jobColumns = ["Job", "Kind", "State", "Attempts", "Layer", "Probe", "Progress",
    "Device", "Error"].map((title) => ({ title }));
  const curves = trainingCurves(metrics.series || []);
  const layers = layerPlots(results, ev.layers || []);
  const running = !["succeeded", "failed", "cancelled"].includes(short(r.state));
  finish([el("h1", {}, `Run ${r.run_id}: ${r.name}`), info,
    el("h2", {}, "Training"),
    curves.length ? el("div", { class: "grid" }, curves)
      : el("div", { class: "empty" }, "No training metrics yet."),
    el("h2", {}, "Representations"),
    layers.length ? el("div", { class: "grid" }, layers)
      : el("div", { class: "empty" }, "No probe results yet."),
    el("h2", {}, "Jobs"), table(jobColumns, jobs, "job-row")], running);
}

// A sweep's axes, named as in `sslab sweeps`: "methods=rotation,jigsaw
// widths=1,2 lr=0.1,0.4 zip=lr+batch-size"; a list setting's value is
// bracketed ("decay-epochs=[15,25],[20]") where the CLI writes "15,25;20".
function gridText(g = {}) {
  const parts = [];
  const axis = (name, values) => {
    if (values && values.length) parts.push(`${name}=${values.join(",")}`);
  };
  axis("methods", (g.methods || []).map(short));
  axis("archs", (g.architectures || []).map(short));
  axis("widths", g.widths);
  axis("last-relus", g.last_relu_values);
  axis("seeds", g.seeds);
  axis("epochs-values", g.epochs_values);
  for (const a of g.axes || []) {
    axis(a.field, (a.values || []).map((v) => (v.includes(",") ? `[${v}]` : v)));
  }
  for (const z of g.zip || []) parts.push(`zip=${(z.fields || []).join("+")}`);
  return parts.join(" ");
}

async function sweepsPage() {
  clearPage("sweeps");
  const list = await api("/sweeps?page_size=100");
  const sweeps = list.sweeps || [];
  const rows = sweeps.map((s) => [link(`#/sweeps/${s.sweep_id}`, s.sweep_id), s.name,
    num(s.runs_total), num(s.runs_succeeded), gridText(s.grid), when(s.create_time)]);
  finish([el("h1", {}, "Sweeps"), sweeps.length
    ? table([{ title: "Sweep" }, { title: "Name" }, { title: "Runs", num: true },
      { title: "Succeeded", num: true }, { title: "Grid" }, { title: "Created" }], rows,
      "sweep-row")
    : el("div", { class: "empty" }, "No sweeps yet.")], false);
}

async function sweepPage(id) {
  clearPage("sweep");
  const [sweep, results] = await Promise.all([api(`/sweeps/${id}`),
    apiAll(`/sweeps/${id}/results`, "results")]);
  const runs = sweep.runs || [];
  const byRun = {};
  for (const r of results) (byRun[r.run_id] = byRun[r.run_id] || []).push(r);
  const widths = new Set(runs.map((r) => num(r.config.width)));
  // The paper's grid: method x architecture (x k), best layer on val.
  const methods = [];
  const columns = [];
  const cell = {};
  const best = {};
  for (const run of runs) {
    const scores = layerScores(byRun[run.run_id] || []);
    const b = bestLayer(scores[preferredProbe(scores)]);
    if (!b) continue;
    best[run.run_id] = b;
    const m = short(run.config.method);
    const col = short(run.config.architecture) + (widths.size > 1 ? ` k=${run.config.width}` : "");
    if (!methods.includes(m)) methods.push(m);
    if (!columns.includes(col)) columns.push(col);
    const key = `${m}|${col}`;
    if (!cell[key] || b.choice > cell[key].choice) cell[key] = b;
  }
  const grid = table([{ title: "Method" }, ...columns.map((c) => ({ title: c }))],
    methods.map((m) => [m, ...columns.map((col) => {
      const b = cell[`${m}|${col}`];
      return b ? `${pct(b.test)} (${b.layer})` : "–";
    })]), "grid-row");
  // Accuracy vs width: one line per method x architecture.
  const widthList = [...widths].sort((a, b) => a - b);
  const lines = {};
  for (const run of runs) {
    const b = best[run.run_id];
    if (!b) continue;
    const key = `${short(run.config.method)} ${short(run.config.architecture)}`;
    lines[key] = lines[key] || {};
    const w = num(run.config.width);
    lines[key][w] = Math.max(lines[key][w] || 0, 100 * b.test);
  }
  const widthChart = chartCard("Accuracy vs width (best layer, test top-1 %)", {
    type: "line",
    data: {
      labels: widthList.map((w) => `k=${w}`),
      datasets: Object.entries(lines).map(([key, byWidth], i) => ({
        label: key, data: widthList.map((w) => byWidth[w] !== undefined ? byWidth[w] : null),
        borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
  });
  // Accuracy vs layer: one line per run, layers in network order.
  const layerOrder = [];
  for (const run of runs) {
    for (const l of (run.config.evaluation || {}).layers || []) {
      if (l !== "pixels" && !layerOrder.includes(l)) layerOrder.push(l);
    }
  }
  const layerChart = chartCard("Accuracy vs layer (test top-1 %)", {
    type: "line",
    data: {
      labels: layerOrder,
      datasets: runs.filter((run) => byRun[run.run_id]).map((run, i) => {
        const scores = layerScores(byRun[run.run_id]);
        const byLayer = scores[preferredProbe(scores)] || {};
        return {
          label: run.name,
          data: layerOrder.map((l) => byLayer[l] && byLayer[l].test !== undefined
            ? 100 * byLayer[l].test : null),
          borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length],
          spanGaps: true,
        };
      }),
    },
  });
  const runRows = runs.map((r) => [link(`#/runs/${r.run_id}`, r.run_id), r.name,
    stateCell(r.state), best[r.run_id] ? `${best[r.run_id].layer} ${pct(best[r.run_id].test)}` : ""]);
  const s = sweep.sweep;
  finish([el("h1", {}, `Sweep ${s.sweep_id}: ${s.name}`),
    el("h2", {}, "Best layer per method and architecture (chosen on val, test top-1 %)"), grid,
    el("div", { class: "grid" }, widthChart, layerChart),
    el("h2", {}, "Runs"),
    table([{ title: "Run" }, { title: "Name" }, { title: "State" }, { title: "Best layer" }],
      runRows, "run-row")], runs.some((r) => ["pending", "running"].includes(short(r.state))));
}

async function workersPage() {
  clearPage("workers");
  const workers = await apiAll("/workers", "workers");
  const rows = workers.map((w) => [w.worker_id, w.name,
    el("td", { class: w.alive ? "state state-succeeded" : "state state-failed" },
      w.alive ? "alive" : "silent"),
    (w.devices || []).map((d) => short(d.kind) === "cuda" ? `cuda:${d.index || 0}` : "cpu").join(", "),
    (w.job_kinds || []).map(short).join(", "),
    (w.jobs || []).map((j) => `${short(j.kind)} ${j.job_id} (run ${j.run_id})`).join(", "),
    when(w.last_heartbeat_time)]);
  finish([el("h1", {}, "Workers"), workers.length
    ? table(["Worker", "Name", "Status", "Devices", "Serves", "Current jobs", "Last heard"]
      .map((title) => ({ title })), rows, "worker-row")
    : el("div", { class: "empty" }, "No workers have registered.")], true);
}

// ---- routing --------------------------------------------------------------

async function route() {
  const parts = (location.hash || "#/runs").slice(2).split("/");
  try {
    if (parts[0] === "runs" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "sweeps" && parts[1]) await sweepPage(parts[1]);
    else if (parts[0] === "sweeps") await sweepsPage();
    else if (parts[0] === "workers") await workersPage();
    else await runsPage();
  } catch (e) {
    reportError(e.message);
    app.dataset.ready = "1";
  }
}

window.addEventListener("hashchange", () => { app.dataset.ready = "0"; route(); });
api("/version").then((v) => {
  document.getElementById("version").textContent = `sslab ${v.version} (${v.api})`;
}).catch((e) => reportError(e.message));
route();
