// Host drill-down: identity, current values, data delivery (completeness, what was not
// stored, clock offset), time-range charts and top processes.

import { h, replace, svgIcon } from "../dom.js";
import { ago, bits, bytes, datetime, duration, isNum, num, pct, rate } from "../format.js";
import { chartCard, align } from "../charts.js";
import { loadHost, loadCompleteness, loadCurrent, loadHistory, loadNetRates, loadProcesses } from "../model.js";
import { isAbort, poll } from "../live.js";
import { statusPill, meter, labelChips, errorText } from "./widgets.js";
import { ApiError } from "../api.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../model.js").ChartQuery} ChartQuery */
/** @typedef {import("../model.js").HostView} HostView */
/** @typedef {import("../model.js").CurrentView} CurrentView */
/** @typedef {import("../model.js").ProcessRow} ProcessRow */
/** @typedef {import("../model.js").CompletenessView} CompletenessView */
/** @typedef {import("../model.js").DropView} DropView */
/** @typedef {import("../charts.js").ChartDef & {queries: ChartQuery[]}} ChartSpec */
/** @typedef {import("../charts.js").SeriesDef} SeriesDef */
/** @typedef {import("../charts.js").Line} Line */

export const RANGES = [
  { key: "1h", seconds: 3600, step: 15 },
  { key: "6h", seconds: 6 * 3600, step: 60 },
  { key: "24h", seconds: 86400, step: 300 },
  { key: "7d", seconds: 7 * 86400, step: 1800 },
  { key: "30d", seconds: 30 * 86400, step: 3 * 3600 },
];

const bitRate = (/** @type {number | null} */ v) => bits(v);
// Completeness is counted over raw points, which are kept a day: longer ranges show a day.
const COMPLETENESS_MAX = "24h";
// A clock further off than this is flagged (the default "Host clock off" rule's threshold).
const CLOCK_WARN_S = 30;
const DROP_KINDS = { agent: "dropped by the agent", refused: "refused by the server", quarantine: "spool files set aside" };

/**
 * "+12.5 s" / "−900 s": the server's clock minus the host's.
 * @param {number} offset
 */
export function offsetText(offset) {
  const abs = Math.abs(offset);
  const digits = abs >= 100 ? 0 : 1;
  return `${offset < 0 ? "−" : "+"}${abs.toFixed(digits)} s`;
}
const RANGE_MARGIN_S = 60;

// Each chart names the Telegraf-style series it plots; `split` draws one line per tag value,
// `rate` turns a counter into a per-second rate, `sum` adds the series of all tag values.
/** @type {ChartSpec[]} */
export const CHARTS = [
  {
    id: "cpu", title: "CPU", subtitle: "% of all cores", format: pct, yMin: 0, yMax: 100,
    queries: [
      { metric: "cpu.usage_user", tags: { cpu: "cpu-total" }, label: "user" },
      { metric: "cpu.usage_system", tags: { cpu: "cpu-total" }, label: "system" },
      { metric: "cpu.usage_iowait", tags: { cpu: "cpu-total" }, label: "iowait" },
      { metric: "cpu.usage_steal", tags: { cpu: "cpu-total" }, label: "steal", optional: true },
    ],
  },
  {
    id: "load", title: "Load average", subtitle: "runnable tasks", format: (/** @type {number | null} */ v) => num(v, 2), yMin: 0,
    queries: [
      { metric: "system.load1", label: "1 min" },
      { metric: "system.load5", label: "5 min" },
      { metric: "system.load15", label: "15 min" },
    ],
  },
  {
    id: "memory", title: "Memory", subtitle: "% used", format: pct, yMin: 0, yMax: 100,
    queries: [
      { metric: "mem.used_percent", label: "memory" },
      { metric: "swap.used_percent", label: "swap", optional: true },
    ],
  },
  {
    id: "disk", title: "Disk usage", subtitle: "% used per mount", format: pct, yMin: 0, yMax: 100,
    queries: [{ metric: "disk.used_percent", split: "path", label: "" }],
  },
  {
    id: "network", title: "Network", subtitle: "all interfaces", format: bitRate, yMin: 0,
    queries: [
      { metric: "net.bytes_recv", rate: true, sum: true, loopback: true, label: "received" },
      { metric: "net.bytes_sent", rate: true, sum: true, loopback: true, label: "sent" },
    ],
  },
  {
    id: "diskio", title: "Disk I/O", subtitle: "all devices", format: rate, yMin: 0,
    queries: [
      { metric: "diskio.read_bytes", rate: true, sum: true, label: "read" },
      { metric: "diskio.write_bytes", rate: true, sum: true, label: "write" },
    ],
  },
];

/** @param {URLSearchParams} query */
function rangeOf(query) {
  return RANGES.find((r) => r.key === query.get("range")) || RANGES[0];
}

/**
 * @param {HTMLElement} main
 * @param {ViewContext & {host: string}} ctx
 * @returns {View}
 */
export function mountHost(main, { host, query }) {
  document.title = `${host} · fleetmon`;
  let range = rangeOf(query);
  let destroyed = false;

  const statusSlot = h("span");
  const metaSlot = h("dl", { class: "meta" });
  const labelsSlot = h("div", { class: "host-labels" });
  const tiles = h("div", { class: "tiles stat-tiles", "aria-label": "Current values" });
  const errorBox = h("p", { class: "banner banner-error", role: "alert", hidden: true });
  const procBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const completeBody = h("div", { class: "card table-wrap", id: "completeness" }, h("p", { class: "empty" }, "Loading…"));
  const dropsBody = h("div", { class: "card table-wrap", id: "drops" }, h("p", { class: "empty" }, "Loading…"));
  const completeTitle = h("h2", { class: "section-title" }, "Completeness");
  const disksBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const rangeButtons = RANGES.map((r) =>
    h("button", { type: "button", class: "seg-btn", "data-range": r.key, "aria-pressed": r.key === range.key ? "true" : "false", onclick: () => { window.location.hash = `#/host/${encodeURIComponent(host)}?range=${r.key}`; } }, r.key),
  );
  const cards = CHARTS.map((c) => ({ def: c, card: chartCard(c) }));

  main.append(
    h(
      "section",
      { class: "page" },
      h("a", { href: "#/", class: "back-link" }, svgIcon("back"), "Fleet"),
      h(
        "div",
        { class: "page-head host-head" },
        h("div", {}, h("h1", { class: "host-title" }, h("span", { id: "host-name" }, host), statusSlot), labelsSlot),
        metaSlot,
      ),
      errorBox,
      tiles,
      h(
        "div",
        { class: "two-col" },
        h("div", {}, completeTitle, completeBody),
        h("div", {}, h("h2", { class: "section-title" }, "Not stored"), dropsBody),
      ),
      h(
        "div",
        { class: "section-bar" },
        h("h2", { class: "section-title" }, "History"),
        h("div", { class: "segmented", role: "group", "aria-label": "Time range" }, rangeButtons),
      ),
      h("div", { class: "chart-grid" }, cards.map((c) => c.card.el)),
      h(
        "div",
        { class: "two-col" },
        h("div", {}, h("h2", { class: "section-title" }, "Top processes"), procBody),
        h("div", {}, h("h2", { class: "section-title" }, "Filesystems"), disksBody),
      ),
    ),
  );

  /** @param {HostView} info */
  function renderIdentity(info) {
    replace(statusSlot, statusPill(info.status));
    replace(labelsSlot, labelChips(info.labels) || h("span", { class: "muted" }, "no labels"));
    /**
     * @param {string} k
     * @param {string} v
     * @param {string} [title]
     */
    const item = (k, v, title) => [h("dt", {}, k), h("dd", { title }, v)];
    const clock = info.clock;
    const clockTitle = clock ? `server clock minus the host's, ${clock.source === "agent" ? "measured by the agent (its timestamps are corrected)" : "estimated from arrival times"}; ${datetime(clock.measuredAt)}` : "not measured yet";
    replace(
      metaSlot,
      item("Last seen", ago(info.lastSeen), datetime(info.lastSeen)),
      item("Agent", info.agentVersion || "—"),
      item("First seen", info.firstSeen ? datetime(info.firstSeen) : "—"),
      h("dt", {}, "Clock offset"),
      h("dd", { id: "clock-offset", title: clockTitle, class: clock && Math.abs(clock.offset) > CLOCK_WARN_S ? "text-crit" : undefined }, clock ? `${offsetText(clock.offset)} (${clock.source})` : "—"),
    );
    renderDrops(info.drops);
  }

  /** @param {DropView[]} drops */
  function renderDrops(drops) {
    if (!drops.length) {
      replace(dropsBody, h("p", { class: "empty" }, "Everything this host sent was stored."));
      return;
    }
    replace(
      dropsBody,
      h(
        "table",
        { class: "data-table", id: "drops-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Reason"), h("th", { scope: "col", class: "num" }, "Count"), h("th", { scope: "col" }, "Last"))),
        h(
          "tbody",
          {},
          drops.map((d) =>
            h("tr", {}, h("td", {}, DROP_KINDS[/** @type {keyof typeof DROP_KINDS} */ (d.kind)] || d.kind), h("td", { class: "mono" }, d.reason), h("td", { class: "num" }, d.count.toLocaleString()), h("td", { title: datetime(d.lastAt) }, ago(d.lastAt)))),
        ),
      ),
    );
  }

  /** @param {CompletenessView} c */
  function renderCompleteness(c) {
    if (c.ratio === null) {
      replace(completeBody, h("p", { class: "empty" }, "No samples of the reference series yet."));
      return;
    }
    /** @param {number | null} a @param {number | null} b */
    const span = (a, b) => `${datetime(a)} → ${datetime(b)}`;
    const rows = [
      ...c.gaps.map((g) => h("tr", { class: "gap" }, h("td", {}, "missing"), h("td", {}, span(g.start, g.end)), h("td", { class: "num" }, g.missing.toLocaleString()))),
      ...c.late.map((f) => h("tr", { class: "late" }, h("td", { title: `arrived ${datetime(f.arrivedFirst)} – ${datetime(f.arrivedLast)}` }, "filled late"), h("td", {}, span(f.start, f.end)), h("td", { class: "num" }, f.points.toLocaleString()))),
    ];
    replace(
      completeBody,
      h(
        "p",
        { class: "completeness-summary" },
        h("strong", { id: "completeness-ratio" }, pct(c.ratio * 100)),
        ` of ${c.expected.toLocaleString()} expected samples (${c.reference}, every ${isNum(c.interval) ? String(Math.round(c.interval * 10) / 10) : "?"} s)`,
      ),
      rows.length
        ? h("table", { class: "data-table", id: "completeness-table" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Stretch"), h("th", { scope: "col" }, "When"), h("th", { scope: "col", class: "num" }, "Samples / points"))), h("tbody", {}, rows))
        : h("p", { class: "empty" }, "No gaps."),
    );
  }

  /** @param {AbortSignal} signal */
  async function loadDelivery(signal) {
    const key = range.seconds > 86400 ? COMPLETENESS_MAX : range.key;
    completeTitle.textContent = `Completeness (${key})`;
    try {
      renderCompleteness(await loadCompleteness(host, key, signal));
    } catch (err) {
      if (isAbort(err)) throw err;
      replace(completeBody, h("p", { class: "empty" }, `Could not load: ${errorText(err)}`));
    }
  }

  /** @param {CurrentView} cur */
  function renderCurrent(cur) {
    /**
     * @param {string} label
     * @param {string} value
     * @param {import("../types/ui").Children} [extra]
     */
    const tile = (label, value, extra) => h("div", { class: "tile stat" }, h("span", { class: "tile-label" }, label), h("span", { class: "tile-value" }, value), extra ? h("span", { class: "tile-extra" }, extra) : null);
    replace(
      tiles,
      tile("CPU", pct(cur.cpu), meter(cur.cpu)),
      tile("Memory", pct(cur.mem), cur.memTotal ? `${bytes(cur.memUsed)} of ${bytes(cur.memTotal)}` : meter(cur.mem)),
      tile("Load 1 / 5 / 15", `${num(cur.load1)} / ${num(cur.load5)} / ${num(cur.load15)}`, isNum(cur.cores) ? `${cur.cores} CPUs` : null),
      tile("Fullest disk", pct(cur.disk), cur.diskPath || null),
      tile("Network in / out", `↓ ${bits(cur.rx)}`, `↑ ${bits(cur.tx)} sent`),
      tile("Uptime", isNum(cur.uptime) ? duration(cur.uptime) : "—", isNum(cur.procs) ? `${cur.procs} processes` : null),
    );
    if (!cur.disks.length) {
      replace(disksBody, h("p", { class: "empty" }, "No filesystem reported."));
    } else {
      replace(
        disksBody,
        h(
          "table",
          { class: "data-table", id: "disks-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mount"), h("th", { scope: "col", class: "num" }, "Used"), h("th", { scope: "col", class: "num" }, "Size"), h("th", { scope: "col", class: "num" }, "Usage"))),
          h("tbody", {}, cur.disks.map((d) => h("tr", {}, h("td", { class: "mono" }, d.path), h("td", { class: "num" }, bytes(d.used)), h("td", { class: "num" }, bytes(d.total)), h("td", { class: "num" }, meter(d.pct))))),
        ),
      );
    }
  }

  /** @param {ProcessRow[]} list */
  function renderProcesses(list) {
    if (!list || !list.length) {
      replace(procBody, h("p", { class: "empty" }, "No process data reported."));
      return;
    }
    replace(
      procBody,
      h(
        "table",
        { class: "data-table", id: "process-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Process"), h("th", { scope: "col", class: "num" }, "PID"), h("th", { scope: "col" }, "User"), h("th", { scope: "col", class: "num" }, "CPU"), h("th", { scope: "col", class: "num" }, "Memory"))),
        h(
          "tbody",
          {},
          list.slice(0, 15).map((p) =>
            h("tr", {}, h("td", { class: "mono", title: p.cmdline || p.name }, p.name), h("td", { class: "num" }, p.pid ?? "—"), h("td", {}, p.user || "—"), h("td", { class: "num" }, pct(p.cpu)), h("td", { class: "num" }, isNum(p.rss) ? bytes(p.rss) : pct(p.mem)))),
        ),
      ),
    );
  }

  // Metrics the host reports; charts skip the others instead of asking for unknown series.
  /** @type {Set<string> | null} */
  let available = null;

  /** @param {AbortSignal} signal */
  async function loadCharts(signal) {
    const end = Math.floor(Date.now() / 1000);
    // A minute short of the full span: the server picks the storage tier from the range's age,
    // and "exactly 7 d ago" seen a moment later is older than the 7 d tier keeps.
    const start = end - range.seconds + RANGE_MARGIN_S;
    const shownRange = range.key;
    await Promise.all(
      cards.map(async ({ def, card }) => {
        try {
          const wanted = def.queries.filter((q) => !available || available.has(q.metric));
          const results = await Promise.all(wanted.map((q) => loadHistory(host, q, start, end, range.step, signal).catch((err) => {
            if (isAbort(err)) throw err;
            return /** @type {Line[]} */ ([]);
          })));
          /** @type {SeriesDef[]} */
          const series = [];
          /** @type {Line[]} */
          const lists = [];
          results.forEach((list, i) => {
            for (const s of list) {
              if (wanted[i].optional && !s.points.some(([, v]) => v !== null)) continue;
              series.push({ label: s.label });
              lists.push(s);
            }
          });
          card.update({ series, data: lists.length ? align(lists) : [[]], xRange: [end - range.seconds, end] });
          card.el.dataset.range = shownRange;
        } catch (err) {
          if (!isAbort(err)) card.update({ series: [], data: [[]] });
        }
      }),
    );
  }

  /** @param {AbortSignal} signal */
  async function loadNow(signal) {
    const [info, cur, procs, net] = await Promise.all([
      loadHost(host, signal),
      loadCurrent(host, signal),
      loadProcesses(host, signal).catch(() => []),
      loadNetRates(host, signal).catch(() => ({ rx: null, tx: null })),
    ]);
    if (destroyed) return;
    available = cur.available.size ? cur.available : null;
    Object.assign(cur, net);
    errorBox.hidden = true;
    renderIdentity(info);
    renderCurrent(cur);
    renderProcesses(procs);
  }

  let tickCount = 0;
  const poller = poll(async (signal) => {
    try {
      // Current values every tick; charts on the first tick and then every 30 s (or 6 ticks).
      const charts = tickCount % 6 === 0;
      tickCount += 1;
      await loadNow(signal);
      if (charts) await Promise.all([loadCharts(signal), loadDelivery(signal)]);
    } catch (err) {
      if (!isAbort(err)) {
        errorBox.textContent = err instanceof ApiError && err.status === 404 ? `Host “${host}” is not known to this server.` : `Could not load this host: ${errorText(err)}`;
        errorBox.hidden = false;
      }
      throw err;
    }
  }, 5000);

  return {
    /** @param {URLSearchParams} q */
    update(q) {
      const next = rangeOf(q);
      if (next.key === range.key) return;
      range = next;
      for (const b of rangeButtons) b.setAttribute("aria-pressed", b.dataset.range === range.key ? "true" : "false");
      tickCount = 0;
      poller.now();
    },
    destroy() {
      destroyed = true;
      poller.stop();
      for (const c of cards) c.card.destroy();
    },
  };
}
