// Fleet overview: every host with status, CPU, memory, worst disk, network and last seen.
// Sortable, filterable by name or label, refreshed every few seconds.

import { h, replace } from "../dom.js";
import { ago, bits, duration, isNum, num } from "../format.js";
import { loadFleet, loadActiveAlerts } from "../model.js";
import { isAbort, poll } from "../live.js";
import { statusPill, meter, labelChips, severityRank, setAlertBadge, errorText } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../model.js").FleetRow} FleetRow */
/** @typedef {import("../model.js").AlertRow} AlertRow */
/** @typedef {{key: string, label: string, get: (r: FleetRow) => number | string | null, numeric?: boolean}} Column */

/** @type {Record<string, number>} */
const STATUS_ORDER = { down: 0, stale: 1, unknown: 2, up: 3 };

/** @type {Column[]} */
const COLUMNS = [
  { key: "status", label: "Status", get: (r) => STATUS_ORDER[r.status] ?? 2 },
  { key: "name", label: "Host", get: (r) => r.name.toLowerCase() },
  { key: "cpu", label: "CPU", get: (r) => r.cpu, numeric: true },
  { key: "mem", label: "Memory", get: (r) => r.mem, numeric: true },
  { key: "disk", label: "Disk (worst)", get: (r) => r.disk, numeric: true },
  { key: "load", label: "Load 1m", get: (r) => r.load1, numeric: true },
  { key: "net", label: "Network in / out", get: (r) => (isNum(r.rx) || isNum(r.tx) ? (r.rx || 0) + (r.tx || 0) : null), numeric: true },
  { key: "seen", label: "Last seen", get: (r) => r.lastSeen, numeric: true },
];

// Kept for the session so returning from a host page restores the same view.
const state = { sort: "status", dir: "asc", q: "", status: "all" };

/**
 * @param {FleetRow} row
 * @param {string} q
 */
function matches(row, q) {
  if (!q) return true;
  // Every term must match: "web env=prod" = name contains web AND label env is prod.
  return q
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((term) => {
      const eq = term.indexOf("=");
      if (eq > 0) {
        const k = term.slice(0, eq);
        const v = term.slice(eq + 1);
        return Object.entries(row.labels).some(([lk, lv]) => lk.toLowerCase() === k && String(lv).toLowerCase().includes(v));
      }
      if (row.name.toLowerCase().includes(term)) return true;
      return Object.entries(row.labels).some(([lk, lv]) => `${lk}=${lv}`.toLowerCase().includes(term));
    });
}

/**
 * @param {FleetRow} a
 * @param {FleetRow} b
 * @param {Column} col
 * @param {string} dir
 */
function compare(a, b, col, dir) {
  const va = col.get(a);
  const vb = col.get(b);
  // Missing values sort last whatever the direction.
  const na = va === null || va === undefined;
  const nb = vb === null || vb === undefined;
  if (na || nb) return na === nb ? a.name.localeCompare(b.name) : na ? 1 : -1;
  const c = va < vb ? -1 : va > vb ? 1 : 0;
  return (dir === "asc" ? c : -c) || a.name.localeCompare(b.name);
}

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountOverview(main, { navigate, config }) {
  document.title = "Fleet · fleetmon";
  const severities = config ? config.alerting.severities : [];
  const thresholds = config ? config.host_status : null;
  /** @type {Record<string, string>} */
  const statusHelp = thresholds
    ? {
        up: `last seen at most ${duration(thresholds.stale_after_s)} ago`,
        stale: `last seen ${duration(thresholds.stale_after_s)} to ${duration(thresholds.down_after_s)} ago`,
        down: `not seen for more than ${duration(thresholds.down_after_s)}`,
      }
    : {};
  /** @type {FleetRow[]} */
  let rows = [];
  /** @type {Map<string, AlertRow[]>} */
  let alertsByHost = new Map();
  let alertsKnown = false;
  let loaded = false;

  const counts = h("div", { class: "tiles", "aria-label": "Fleet summary" });
  const search = /** @type {HTMLInputElement} */ (h("input", {
    type: "search",
    id: "host-filter",
    placeholder: "Filter by name or label (env=prod)",
    "aria-label": "Filter hosts by name or label",
    value: state.q,
    autocomplete: "off",
  }));
  const statusSel = /** @type {HTMLSelectElement} */ (h(
    "select",
    { id: "status-filter", "aria-label": "Filter hosts by status" },
    ["all", "up", "stale", "down"].map((s) => h("option", { value: s, selected: state.status === s }, s === "all" ? "All statuses" : s[0].toUpperCase() + s.slice(1))),
  ));
  const headRow = h("tr");
  const tbody = h("tbody");
  const table = h("table", { class: "data-table fleet-table", id: "fleet-table" }, h("caption", { class: "sr-only" }, "Hosts in the fleet"), h("thead", {}, headRow), tbody);
  const subtitle = h("p", { class: "muted page-sub" }, "Loading…");
  const errorBox = h("p", { class: "banner banner-error", role: "alert", hidden: true });

  function renderHead() {
    replace(
      headRow,
      COLUMNS.map((col) => {
        const active = state.sort === col.key;
        return h(
          "th",
          { scope: "col", class: col.numeric ? "num" : "", "aria-sort": active ? (state.dir === "asc" ? "ascending" : "descending") : "none" },
          h(
            "button",
            {
              type: "button",
              class: "sort-btn",
              "data-sort": col.key,
              onclick: () => {
                if (state.sort === col.key) state.dir = state.dir === "asc" ? "desc" : "asc";
                else {
                  state.sort = col.key;
                  state.dir = col.numeric ? "desc" : "asc";
                }
                renderHead();
                renderBody();
              },
            },
            col.label,
            h("span", { class: "sort-ind", "aria-hidden": "true" }, active ? (state.dir === "asc" ? "▲" : "▼") : "↕"),
          ),
        );
      }),
    );
  }

  function renderTiles() {
    /** @type {Record<string, number>} */
    const c = { up: 0, stale: 0, down: 0, unknown: 0 };
    for (const r of rows) c[r.status in c ? r.status : "unknown"] += 1;
    const firing = [...alertsByHost.values()].reduce((n, list) => n + list.length, 0);
    /**
     * @param {string} label
     * @param {number} value
     * @param {string} cls
     * @param {string} filter
     */
    const tile = (label, value, cls, filter) =>
      h(
        "button",
        {
          type: "button",
          class: `tile ${cls}${state.status === filter ? " active" : ""}`,
          "aria-pressed": state.status === filter ? "true" : "false",
          title: statusHelp[filter],
          onclick: () => {
            state.status = state.status === filter ? "all" : filter;
            statusSel.value = state.status;
            renderTiles();
            renderBody();
          },
        },
        h("span", { class: "tile-value" }, String(value)),
        h("span", { class: "tile-label" }, label),
      );
    replace(
      counts,
      tile("Hosts", rows.length, "tile-total", "all"),
      tile("Up", c.up, "tile-up", "up"),
      tile("Stale", c.stale, "tile-stale", "stale"),
      tile("Down", c.down, "tile-down", "down"),
      h("a", { class: `tile tile-alerts${firing ? " has-alerts" : ""}`, href: "#/alerts" }, h("span", { class: "tile-value" }, alertsKnown ? String(firing) : "—"), h("span", { class: "tile-label" }, "Firing alerts")),
    );
  }

  function renderBody() {
    const col = COLUMNS.find((c) => c.key === state.sort) || COLUMNS[0];
    const shown = rows.filter((r) => (state.status === "all" || r.status === state.status) && matches(r, state.q)).sort((a, b) => compare(a, b, col, state.dir));
    if (!loaded) return;
    if (shown.length === 0) {
      replace(
        tbody,
        h(
          "tr",
          {},
          h(
            "td",
            { colspan: COLUMNS.length, class: "empty" },
            rows.length === 0 ? "No hosts yet. Enroll an agent and its host appears here within seconds." : "No host matches this filter.",
          ),
        ),
      );
      return;
    }
    // Keep keyboard focus on the same host link across refreshes.
    const focused = document.activeElement ? document.activeElement.closest("tr[data-host]") : null;
    const focusHost = focused instanceof HTMLElement && tbody.contains(focused) ? focused.dataset.host : null;
    replace(
      tbody,
      shown.map((r) => {
        const href = `#/host/${encodeURIComponent(r.name)}`;
        const alerts = alertsByHost.get(r.name) || [];
        const worst = alerts.sort((a, b) => severityRank(severities, b.severity) - severityRank(severities, a.severity))[0];
        return h(
          "tr",
          { "data-host": r.name, class: `row-${r.status}`, onclick: (/** @type {MouseEvent} */ ev) => { if (!(ev.target instanceof Element && ev.target.closest("a"))) navigate(href); } },
          h("td", { class: "status-cell" }, statusPill(r.status)),
          h(
            "td",
            { class: "host-cell" },
            h("a", { href, class: "host-link" }, r.name),
            worst ? h("a", { href: "#/alerts", class: `alert-flag sev-${worst.severity}`, title: `${alerts.length} firing alert(s)` }, `${alerts.length} alert${alerts.length > 1 ? "s" : ""}`) : null,
            labelChips(r.labels, 3),
          ),
          h("td", { class: "num", "data-metric": "cpu", "data-label": "CPU" }, meter(r.cpu)),
          h("td", { class: "num", "data-metric": "mem", "data-label": "Memory" }, meter(r.mem)),
          h("td", { class: "num", "data-metric": "disk", "data-label": "Disk", title: r.diskPath ? `fullest mount: ${r.diskPath}` : null }, meter(r.disk, r.diskPath)),
          h("td", { class: "num", "data-label": "Load 1m" }, num(r.load1, 2)),
          h("td", { class: "num net-cell", "data-label": "Network" }, h("span", { title: "received" }, "↓ ", bits(r.rx)), h("span", { title: "sent" }, "↑ ", bits(r.tx))),
          h("td", { class: "num nowrap", "data-label": "Last seen", title: r.lastSeen ? new Date(r.lastSeen * 1000).toLocaleString() : "never" }, ago(r.lastSeen)),
        );
      }),
    );
    if (focusHost) {
      const row = [...tbody.querySelectorAll("tr[data-host]")].find((tr) => tr instanceof HTMLElement && tr.dataset.host === focusHost);
      const link = row && row.querySelector("a.host-link");
      if (link instanceof HTMLElement) link.focus({ preventScroll: true });
    }
  }

  search.addEventListener("input", () => {
    state.q = search.value;
    renderBody();
  });
  statusSel.addEventListener("change", () => {
    state.status = statusSel.value;
    renderTiles();
    renderBody();
  });

  main.append(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Fleet overview"), subtitle)),
      errorBox,
      counts,
      h("div", { class: "toolbar" }, h("div", { class: "search-box" }, search), statusSel),
      h("div", { class: "table-wrap card" }, table),
    ),
  );
  renderHead();
  renderTiles();
  replace(tbody, h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "Loading hosts…")));

  const poller = poll(async (signal) => {
    try {
      const [fleet, alerts] = await Promise.all([loadFleet(signal), loadActiveAlerts(signal).catch(() => null)]);
      rows = fleet;
      alertsByHost = new Map();
      alertsKnown = Array.isArray(alerts);
      for (const a of (alerts || []).filter((x) => x.status === "firing")) {
        const list = alertsByHost.get(a.host) || [];
        list.push(a);
        alertsByHost.set(a.host, list);
      }
      loaded = true;
      setAlertBadge([...alertsByHost.values()].reduce((n, list) => n + list.length, 0));
      errorBox.hidden = true;
      subtitle.textContent = `${rows.length} host${rows.length === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`;
      renderTiles();
      renderBody();
    } catch (err) {
      if (!isAbort(err)) {
        errorBox.textContent = `Could not load the fleet: ${errorText(err)}`;
        errorBox.hidden = false;
      }
      throw err;
    }
  }, 5000);

  return { destroy: () => poller.stop() };
}
