// Turns API answers into the plain shapes the views draw. The answers are typed by the
// OpenAPI document (types/api.d.ts): every field read here exists in the schema, and
// nothing is guessed (no fallback field names, no status computed in the browser).

import { get } from "./api.js";
import { isNum, toEpoch } from "./format.js";

/** @typedef {import("./types/api").UiConfigOut} UiConfig */
/** @typedef {import("./types/api").SampleOut} SampleOut */

/**
 * @typedef {object} HostView
 * @property {string} name
 * @property {string} status up, stale or down, as the server decided
 * @property {Record<string, string>} labels
 * @property {string | null} agentVersion
 * @property {number | null} lastSeen epoch seconds
 * @property {number | null} firstSeen epoch seconds
 * @property {ClockView | null} clock the host's clock offset, once measured
 * @property {DropView[]} drops what was not stored, by kind and reason
 */

/**
 * @typedef {object} ClockView
 * @property {number} offset server clock minus the host's, seconds
 * @property {string} source agent (measured by the agent) or arrival (estimated by the server)
 * @property {number | null} measuredAt epoch seconds
 */

/**
 * @typedef {object} DropView
 * @property {string} kind agent, refused or quarantine
 * @property {string} reason
 * @property {number} count points (files for quarantine)
 * @property {number | null} firstAt epoch seconds
 * @property {number | null} lastAt epoch seconds, when the count last grew
 */

/**
 * @typedef {object} CompletenessView
 * @property {number | null} ratio 0..1, null without data
 * @property {number} expected
 * @property {number} present
 * @property {number | null} interval collection interval, seconds
 * @property {string} reference the series counted
 * @property {{start: number | null, end: number | null, missing: number}[]} gaps
 * @property {{start: number | null, end: number | null, points: number, arrivedFirst: number | null, arrivedLast: number | null}[]} late
 */

/**
 * @typedef {object} FleetRow
 * @property {string} name
 * @property {string} status
 * @property {Record<string, string>} labels
 * @property {number | null} lastSeen
 * @property {number | null} cpu
 * @property {number | null} mem
 * @property {number | null} disk
 * @property {string | null} diskPath
 * @property {number | null} rx bytes/s
 * @property {number | null} tx bytes/s
 * @property {number | null} load1
 */

/** @param {unknown} v */
const asNum = (v) => (isNum(v) ? v : null);

/** @type {Promise<UiConfig> | null} */
let configPromise = null;

/**
 * Server settings the UI renders with (status thresholds, loopback interfaces, alert
 * vocabulary): asked once per page load.
 * @returns {Promise<UiConfig>}
 */
export function loadConfig() {
  if (!configPromise) {
    configPromise = get("/api/v1/ui/config").catch((err) => {
      configPromise = null; // ask again next time
      throw err;
    });
  }
  return configPromise;
}

/** Who is signed in, and whether the UI offers changes (admins) or only reading. */
export async function loadMe() {
  return get("/api/v1/auth/me");
}

/**
 * @param {string} host
 * @param {AbortSignal} [signal]
 * @returns {Promise<HostView>}
 */
export async function loadHost(host, signal) {
  const r = await get("/api/v1/hosts/{host}", { path: { host }, signal });
  return {
    name: r.name,
    status: r.status,
    labels: r.labels,
    agentVersion: r.agent_version,
    lastSeen: toEpoch(r.last_seen),
    firstSeen: toEpoch(r.first_seen),
    clock: r.clock ? { offset: r.clock.offset_s, source: r.clock.source, measuredAt: toEpoch(r.clock.measured_at) } : null,
    drops: r.drops.map((d) => ({ kind: d.kind, reason: d.reason, count: d.count, firstAt: toEpoch(d.first_at), lastAt: toEpoch(d.last_at) })),
  };
}

/**
 * How complete the host's data is over the last `range` (e.g. "24h").
 * @param {string} host
 * @param {string} range
 * @param {AbortSignal} [signal]
 * @returns {Promise<CompletenessView>}
 */
export async function loadCompleteness(host, range, signal) {
  const r = await get("/api/v1/hosts/{host}/completeness", { path: { host }, query: { range }, signal });
  return {
    ratio: r.ratio,
    expected: r.expected,
    present: r.present,
    interval: r.interval_s,
    reference: r.reference,
    gaps: r.gaps.map((g) => ({ start: toEpoch(g.start), end: toEpoch(g.end), missing: g.missing })),
    late: r.filled_late.map((f) => ({ start: toEpoch(f.start), end: toEpoch(f.end), points: f.points, arrivedFirst: toEpoch(f.arrived_first), arrivedLast: toEpoch(f.arrived_last) })),
  };
}

/**
 * @typedef {object} FleetQuery
 * @property {string} q filter terms (name text or label k=v, all must match)
 * @property {string} status "all", "up", "stale" or "down"
 * @property {"status" | "name" | "cpu" | "mem" | "disk" | "load" | "net" | "seen"} sort
 * @property {"asc" | "desc"} dir
 * @property {number} offset
 * @property {number} limit
 */

/**
 * @typedef {object} FleetPage
 * @property {FleetRow[]} rows the page, filtered and sorted by the server
 * @property {number} total hosts matching the filter
 * @property {number} offset
 * @property {Record<string, number>} counts hosts per status, whole fleet
 */

/**
 * One page of hosts with their latest headline values: the server filters, sorts and pages,
 * so a fleet of thousands never reaches the browser at once.
 * @param {FleetQuery} view
 * @param {AbortSignal} [signal]
 * @returns {Promise<FleetPage>}
 */
export async function loadFleet(view, signal) {
  const data = await get("/api/v1/metrics/overview", {
    signal,
    query: {
      q: view.q.trim(),
      status: view.status === "all" ? undefined : /** @type {"up" | "stale" | "down"} */ (view.status),
      sort: view.sort,
      order: view.dir,
      limit: view.limit,
      offset: view.offset,
    },
  });
  return {
    total: data.total,
    offset: data.offset,
    counts: data.counts,
    rows: data.hosts.map((r) => ({
      name: r.name,
      status: r.status,
      labels: r.labels,
      lastSeen: toEpoch(r.last_seen),
      cpu: asNum(r.cpu_percent),
      mem: asNum(r.mem_percent),
      disk: asNum(r.disk_percent),
      diskPath: r.disk_path ?? null,
      rx: asNum(r.net_recv_bps),
      tx: asNum(r.net_sent_bps),
      load1: asNum(r.load1),
    })),
  };
}

/**
 * @typedef {object} DiskRow
 * @property {string} path
 * @property {number | null} pct
 * @property {number | null} used
 * @property {number | null} total
 */

/**
 * @typedef {object} CurrentView
 * @property {number | null} cpu
 * @property {number | null} mem
 * @property {number | null} memUsed
 * @property {number | null} memTotal
 * @property {number | null} load1
 * @property {number | null} load5
 * @property {number | null} load15
 * @property {number | null} cores
 * @property {number | null} uptime
 * @property {number | null} procs
 * @property {number | null} disk
 * @property {string | null} diskPath
 * @property {DiskRow[]} disks
 * @property {Set<string>} available "measurement.field" of every series the host reports
 * @property {number | null} rx
 * @property {number | null} tx
 */

/**
 * Latest value of every series of a host, picked into the host page's tiles.
 * @param {string} host
 * @param {AbortSignal} [signal]
 * @returns {Promise<CurrentView>}
 */
export async function loadCurrent(host, signal) {
  const { series } = await get("/api/v1/metrics/current", { query: { host }, signal });
  /**
   * @param {string} m
   * @param {string} f
   * @param {Record<string, string>} [tags]
   */
  const pick = (m, f, tags = {}) => {
    const s = series.find((x) => x.measurement === m && x.field === f && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
    return s ? asNum(s.value) : null;
  };
  /** @type {Map<string, DiskRow>} */
  const disks = new Map();
  for (const s of series) {
    const path = s.tags.path;
    if (s.measurement !== "disk" || !path) continue;
    const d = disks.get(path) || { path, pct: null, used: null, total: null };
    if (s.field === "used_percent") d.pct = asNum(s.value);
    if (s.field === "used") d.used = asNum(s.value);
    if (s.field === "total") d.total = asNum(s.value);
    disks.set(path, d);
  }
  const diskList = [...disks.values()].sort((a, b) => a.path.localeCompare(b.path));
  /** @type {DiskRow | null} */
  let worst = null;
  for (const d of diskList) if (isNum(d.pct) && (!worst || !isNum(worst.pct) || d.pct > worst.pct)) worst = d;
  // The agent always sends Telegraf's `usage_active` (100 - idle).
  const cpu = pick("cpu", "usage_active", { cpu: "cpu-total" });
  return {
    cpu,
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
    available: new Set(series.map((x) => `${x.measurement}.${x.field}`)),
    rx: null,
    tx: null,
  };
}

/**
 * @typedef {object} ProcessRow
 * @property {string} name
 * @property {string | null} pid
 * @property {string} user
 * @property {number | null} cpu
 * @property {number | null} mem
 * @property {number | null} rss
 * @property {string} cmdline
 */

/**
 * The host's processes from its newest `procstat` collection (processes that exited keep
 * their old series for a while: those are left out).
 * @param {string} host
 * @param {AbortSignal} [signal]
 * @returns {Promise<ProcessRow[]>}
 */
export async function loadProcesses(host, signal) {
  const data = await get("/api/v1/metrics/{category}", { path: { category: "processes" }, query: { host }, signal });
  const samples = data.measurements.procstat || [];
  const newest = Math.max(0, ...samples.map((x) => x.time));
  /** @type {Map<string, ProcessRow>} */
  const procs = new Map();
  for (const x of samples) {
    if (x.time < newest - 5) continue;
    const id = `${x.tags.process_name}\u0000${x.tags.pid}`;
    const p = procs.get(id) || { name: x.tags.process_name || "?", pid: x.tags.pid || null, user: x.tags.user || "", cpu: null, mem: null, rss: null, cmdline: "" };
    // cpu_usage/memory_usage (Telegraf's names); older agents sent cpu_percent/memory_percent.
    if (x.field === "cpu_usage" || x.field === "cpu_percent") p.cpu = asNum(x.value);
    else if (x.field === "memory_usage" || x.field === "memory_percent") p.mem = asNum(x.value);
    else if (x.field === "memory_rss") p.rss = asNum(x.value);
    else if (x.field === "cmdline") p.cmdline = String(x.value);
    procs.set(id, p);
  }
  return [...procs.values()].sort((a, b) => (b.cpu ?? -1) - (a.cpu ?? -1) || (b.rss ?? 0) - (a.rss ?? 0));
}

/**
 * One line (or family of lines) of a chart.
 * @typedef {object} ChartQuery
 * @property {string} metric measurement.field
 * @property {string} label
 * @property {Record<string, string>} [tags] exact tag matches
 * @property {boolean} [rate] per-second rate of a counter
 * @property {boolean} [sum] add up the series of every tag value
 * @property {boolean} [loopback] leave out the server's loopback interfaces
 * @property {string} [split] one line per value of this tag
 * @property {boolean} [optional] drop the line when it has no value at all
 */

/**
 * @typedef {object} Line
 * @property {string} label
 * @property {Array<[number, number | null]>} points [epoch seconds, value]
 */

/**
 * Range query for one chart line (or one line per tag value with `split`).
 * @param {string} host
 * @param {ChartQuery} q
 * @param {number} start epoch seconds
 * @param {number} end epoch seconds
 * @param {number} step seconds
 * @param {AbortSignal} [signal]
 * @returns {Promise<Line[]>}
 */
export async function loadHistory(host, q, start, end, step, signal) {
  const loopback = q.loopback ? (await loadConfig()).loopback_interfaces : [];
  const data = await get("/api/v1/metrics/history", {
    query: {
      host,
      metric: q.metric,
      start: String(start),
      end: String(end),
      interval: `${step}s`,
      aggregate: q.rate ? "rate" : undefined,
      tag: Object.entries(q.tags || {}).map(([k, v]) => `${k}=${v}`),
    },
    signal,
  });
  const series = data.series.filter((s) => !loopback.includes(s.tags.interface ?? ""));
  if (q.sum && series.length > 1) {
    /** @type {Map<number, number>} */
    const acc = new Map();
    for (const s of series) for (const [t, v] of s.points) if (v !== null) acc.set(t, (acc.get(t) || 0) + v);
    const points = /** @type {Array<[number, number | null]>} */ ([...acc.entries()].sort((a, b) => a[0] - b[0]));
    return [{ label: q.label, points }];
  }
  return series.map((s) => ({
    label: q.split ? String(s.tags[q.split] ?? q.label) : q.label,
    points: s.points,
  }));
}

/**
 * Current network throughput (bytes/s, every interface but loopback) over the last minutes.
 * @param {string} host
 * @param {AbortSignal} [signal]
 */
export async function loadNetRates(host, signal) {
  const end = Math.floor(Date.now() / 1000);
  /** @param {string} metric */
  const q = (metric) => loadHistory(host, { metric, rate: true, sum: true, loopback: true, label: "" }, end - 180, end, 60, signal);
  /** @param {Line[]} series */
  const lastValue = (series) => {
    const pts = (series[0] && series[0].points) || [];
    for (let i = pts.length - 1; i >= 0; i -= 1) {
      const v = pts[i][1];
      if (v !== null) return v;
    }
    return null;
  };
  const [rx, tx] = await Promise.all([q("net.bytes_recv"), q("net.bytes_sent")]);
  return { rx: lastValue(rx), tx: lastValue(tx) };
}

/**
 * @typedef {object} AlertRow
 * @property {number} ruleId
 * @property {string} rule
 * @property {string} host
 * @property {string} severity
 * @property {string} status pending or firing
 * @property {number | null} value
 * @property {number | null} since epoch seconds: firing since, or pending since
 * @property {string} summary
 */

/**
 * Pending and firing alerts.
 * @param {AbortSignal} [signal]
 * @returns {Promise<AlertRow[]>}
 */
export async function loadActiveAlerts(signal) {
  const list = await get("/api/v1/alerts/active", { signal });
  return list.map((a) => ({
    ruleId: a.rule_id,
    rule: a.rule_name,
    host: a.host,
    severity: a.severity,
    status: a.status,
    value: a.value,
    since: toEpoch(a.firing_since ?? a.pending_since),
    summary: typeof a.annotations.summary === "string" ? a.annotations.summary : "",
  }));
}
