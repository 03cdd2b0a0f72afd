// Turns API responses into the plain shapes the views draw. Everything that knows the
// server's JSON layout lives here, so a change in the API is a change in one file.

import { get, optional } from "./api.js";
import { isNum, toEpoch } from "./format.js";

const first = (...vals) => vals.find((v) => v !== undefined && v !== null);
const asNum = (v) => (isNum(v) ? v : typeof v === "string" && v !== "" && Number.isFinite(Number(v)) ? Number(v) : null);

function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  for (const k of keys) if (data && Array.isArray(data[k])) return data[k];
  return [];
}

// Host status when the server does not say: the API's defaults (stale 120 s, down 600 s).
function statusFrom(lastSeen) {
  if (!isNum(lastSeen)) return "unknown";
  const age = Date.now() / 1000 - lastSeen;
  return age < 120 ? "up" : age < 600 ? "stale" : "down";
}

export function normHost(r) {
  const name = String(first(r.name, r.host, r.hostname, ""));
  const lastSeen = toEpoch(first(r.last_seen, r.lastSeen, r.seen_at));
  return {
    name,
    status: String(first(r.status, statusFrom(lastSeen))).toLowerCase(),
    labels: r.labels && typeof r.labels === "object" ? r.labels : {},
    agentVersion: first(r.agent_version, r.agent && r.agent.version, null),
    lastSeen,
    firstSeen: toEpoch(first(r.first_seen, null)),
  };
}

// One row of GET /metrics/overview: host identity plus its latest headline values.
function normFleetRow(r) {
  return {
    ...normHost(r),
    cpu: asNum(r.cpu_percent),
    mem: asNum(r.mem_percent),
    disk: asNum(r.disk_percent),
    diskPath: first(r.disk_path, null),
    rx: asNum(r.net_recv_bps),
    tx: asNum(r.net_sent_bps),
    load1: asNum(r.load1),
  };
}

export async function loadFleet(signal) {
  const data = await get("metrics/overview", {}, { signal });
  return listOf(data, "hosts").map(normFleetRow);
}

export async function loadHost(host, signal) {
  return normHost(await get(`hosts/${encodeURIComponent(host)}`, {}, { signal }));
}

// Latest value of every series: [{measurement, field, tags, value, time}].
function normSamples(data) {
  const list = listOf(data, "series", "samples", "values", "metrics");
  return list.map((s) => {
    let measurement = s.measurement;
    let field = s.field;
    if ((!measurement || !field) && typeof s.metric === "string") [measurement, field] = s.metric.split(/\.(.+)/);
    return { measurement, field, tags: s.tags || {}, value: asNum(s.value), raw: s.value, time: toEpoch(s.time) };
  });
}

export async function loadCurrent(host, signal) {
  const samples = normSamples(await get("metrics/current", { host }, { signal }));
  const pick = (m, f, tags = {}) => {
    const s = samples.find((x) => x.measurement === m && x.field === f && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
    return s ? s.value : null;
  };
  const disks = new Map();
  for (const s of samples) {
    if (s.measurement !== "disk" || !s.tags.path) continue;
    const d = disks.get(s.tags.path) || { path: s.tags.path, pct: null, used: null, total: null };
    if (s.field === "used_percent") d.pct = s.value;
    if (s.field === "used") d.used = s.value;
    if (s.field === "total") d.total = s.value;
    disks.set(s.tags.path, d);
  }
  const diskList = [...disks.values()].sort((a, b) => a.path.localeCompare(b.path));
  const worst = diskList.reduce((w, d) => (isNum(d.pct) && (!w || d.pct > w.pct) ? d : w), null);
  const cpuIdle = pick("cpu", "usage_idle", { cpu: "cpu-total" });
  const cpuActive = first(pick("cpu", "usage_active", { cpu: "cpu-total" }), isNum(cpuIdle) ? 100 - cpuIdle : null);
  return {
    cpu: cpuActive,
    mem: pick("mem", "used_percent"),
    memUsed: pick("mem", "used"),
    memTotal: pick("mem", "total"),
    load1: pick("system", "load1"),
    load5: pick("system", "load5"),
    load15: pick("system", "load15"),
    cores: pick("system", "n_cpus"),
    uptime: pick("system", "uptime"),
    procs: pick("processes", "total"),
    disk: worst ? worst.pct : null,
    diskPath: worst ? worst.path : null,
    disks: diskList,
    available: new Set(samples.map((x) => `${x.measurement}.${x.field}`)),
  };
}

// GET /metrics/processes gives the latest sample of every procstat field per process;
// keep only the newest collection (processes that exited linger as old series).
export async function loadProcesses(host, signal) {
  const data = await get("metrics/processes", { host }, { signal });
  const samples = normSamples({ series: (data && data.measurements && data.measurements.procstat) || [] });
  const newest = Math.max(0, ...samples.map((x) => x.time || 0));
  const procs = new Map();
  for (const x of samples) {
    if ((x.time || 0) < newest - 5) continue;
    const id = `${x.tags.process_name}\u0000${x.tags.pid}`;
    const p = procs.get(id) || { name: x.tags.process_name || "?", pid: x.tags.pid || null, user: x.tags.user || "", cpu: null, mem: null, rss: null, cmdline: "" };
    if (x.field === "cpu_percent" || x.field === "cpu_usage") p.cpu = x.value;
    else if (x.field === "memory_percent") p.mem = x.value;
    else if (x.field === "memory_rss") p.rss = x.value;
    else if (x.field === "cmdline") p.cmdline = x.raw;
    procs.set(id, p);
  }
  return [...procs.values()].sort((a, b) => (b.cpu ?? -1) - (a.cpu ?? -1) || (b.rss ?? 0) - (a.rss ?? 0));
}

// Range query for one chart line (or one line per tag value with `split`).
export async function loadHistory(host, q, start, end, step, signal) {
  const params = { host, metric: q.metric, start, end, interval: `${step}s` };
  if (q.rate) params.aggregate = "rate";
  params.tag = Object.entries(q.tags || {}).map(([k, v]) => `${k}=${v}`);
  const data = await get("metrics/history", params, { signal });
  let series = listOf(data, "series", "results").map((s) => ({
    tags: s.tags || {},
    points: listOf(s.points || s.values || s.data).map((p) => (Array.isArray(p) ? [toEpoch(p[0]), asNum(p[1])] : [toEpoch(first(p.time, p.t)), asNum(first(p.value, p.v, p.mean))])),
  }));
  for (const [k, v] of Object.entries(q.tags || {})) series = series.filter((s) => s.tags[k] === undefined || s.tags[k] === v);
  for (const [k, values] of Object.entries(q.exclude || {})) series = series.filter((s) => !values.includes(s.tags[k]));
  if (q.sum && series.length > 1) {
    const acc = new Map();
    for (const s of series) for (const [t, v] of s.points) if (v !== null) acc.set(t, (acc.get(t) || 0) + v);
    series = [{ tags: {}, points: [...acc.entries()].sort((a, b) => a[0] - b[0]) }];
  }
  return series.map((s) => ({
    label: q.split ? String(s.tags[q.split] ?? q.label) : q.label,
    points: s.points,
  }));
}

// Current network throughput (bytes/s, all interfaces but loopback) from the last minutes.
export async function loadNetRates(host, signal) {
  const end = Math.floor(Date.now() / 1000);
  const q = (metric) => loadHistory(host, { metric, rate: true, sum: true, exclude: NET_EXCLUDE, label: "" }, end - 180, end, 60, signal);
  const lastValue = (series) => {
    const pts = (series[0] && series[0].points) || [];
    for (let i = pts.length - 1; i >= 0; i -= 1) if (pts[i][1] !== null) return pts[i][1];
    return null;
  };
  const [rx, tx] = await Promise.all([q("net.bytes_recv"), q("net.bytes_sent")]);
  return { rx: lastValue(rx), tx: lastValue(tx) };
}

export const NET_EXCLUDE = { interface: ["lo", "all"] };

export async function loadActiveAlerts(signal) {
  const data = await optional(get("alerts/active", {}, { signal }));
  if (data === undefined) return null;
  return listOf(data, "alerts", "items").map((a) => ({
    rule: String(first(a.rule_name, a.rule && a.rule.name, a.name, a.rule, "alert")),
    host: first(a.host, ""),
    severity: String(first(a.severity, a.rule && a.rule.severity, "warning")),
    status: String(first(a.status, a.state, "firing")),
    value: asNum(a.value),
    since: toEpoch(first(a.firing_since, a.pending_since, a.since, a.started_at)),
    summary: first(a.annotations && (a.annotations.summary || a.annotations.description), a.summary, ""),
  }));
}

export async function loadAlertHistory(signal) {
  const data = await optional(get("alerts/history", { limit: 100 }, { signal }));
  if (data === undefined) return null;
  return listOf(data, "events", "items", "history").map((e) => ({
    rule: String(first(e.rule_name, e.rule, "alert")),
    host: first(e.host, ""),
    severity: String(first(e.severity, "warning")),
    from: String(first(e.from_status, e.from, "")),
    to: String(first(e.to_status, e.to, "")),
    value: asNum(e.value),
    at: toEpoch(first(e.at, e.time)),
  }));
}
