// Fleet overview: hosts with status, CPU, memory, worst disk, network and last seen, one page
// at a time. The server filters (name or label), sorts and pages, so a fleet of thousands
// never builds thousands of rows here; refreshed every few seconds.

import { h, replace } from "../dom.js";
import { ago, bits, duration, num } from "../format.js";
import { loadFleet, loadActiveAlerts } from "../model.js";
import { isAbort, poll } from "../live.js";
import { statusPill, meter, labelChips, severityRank, setAlertBadge, errorText } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../model.js").FleetRow} FleetRow */
/** @typedef {import("../model.js").AlertRow} AlertRow */
/** @typedef {import("../model.js").FleetQuery} FleetQuery */
/** @typedef {{key: FleetQuery["sort"], label: string, numeric?: boolean}} Column */

/** @type {Column[]} */
const COLUMNS = [
  { key: "status", label: "Status" },
  { key: "name", label: "Host" },
  { key: "cpu", label: "CPU", numeric: true },
  { key: "mem", label: "Memory", numeric: true },
  { key: "disk", label: "Disk (worst)", numeric: true },
  { key: "load", label: "Load 1m", numeric: true },
  { key: "net", label: "Network in / out", numeric: true },
  { key: "seen", label: "Last seen", numeric: true },
];

// Hosts per page: a page renders fast whatever the fleet's size.
const PAGE = 100;

// Kept for the session so returning from a host page restores the same view.
/** @type {{sort: FleetQuery["sort"], dir: FleetQuery["dir"], q: string, status: string, offset: number}} */
const state = { sort: "status", dir: "asc", q: "", status: "all", offset: 0 };

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
  let total = 0;
  /** @type {Record<string, number>} */
  let fleetCounts = {};
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
                state.offset = 0;
                renderHead();
                reload();
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
    const c = { up: 0, stale: 0, down: 0, unknown: 0, ...fleetCounts };
    const all = Object.values(fleetCounts).reduce((n, v) => n + v, 0);
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
            state.offset = 0;
            renderTiles();
            reload();
          },
        },
        h("span", { class: "tile-value" }, String(value)),
        h("span", { class: "tile-label" }, label),
      );
    replace(
      counts,
      tile("Hosts", all, "tile-total", "all"),
      tile("Up", c.up, "tile-up", "up"),
      tile("Stale", c.stale, "tile-stale", "stale"),
      tile("Down", c.down, "tile-down", "down"),
      h("a", { class: `tile tile-alerts${firing ? " has-alerts" : ""}`, href: "#/alerts" }, h("span", { class: "tile-value" }, alertsKnown ? String(firing) : "—"), h("span", { class: "tile-label" }, "Firing alerts")),
    );
  }

  const pagerText = h("span", { class: "muted", id: "fleet-page" });
  const prevBtn = h("button", { type: "button", class: "btn", id: "fleet-prev", onclick: () => turn(-1) }, "Previous");
  const nextBtn = h("button", { type: "button", class: "btn", id: "fleet-next", onclick: () => turn(1) }, "Next");
  const pager = h("div", { class: "toolbar pager", "aria-label": "Pages of hosts" }, prevBtn, pagerText, nextBtn);

  /** @param {number} step */
  function turn(step) {
    state.offset = Math.max(0, state.offset + step * PAGE);
    reload();
  }

  function renderPager() {
    const first = total === 0 ? 0 : state.offset + 1;
    const last = Math.min(total, state.offset + rows.length);
    pagerText.textContent = `${first.toLocaleString()}–${last.toLocaleString()} of ${total.toLocaleString()}`;
    /** @type {HTMLButtonElement} */ (prevBtn).disabled = state.offset === 0;
    /** @type {HTMLButtonElement} */ (nextBtn).disabled = state.offset + PAGE >= total;
    pager.hidden = total <= PAGE && state.offset === 0;
  }

  function renderBody() {
    const shown = rows;
    if (!loaded) return;
    renderPager();
    if (shown.length === 0) {
      replace(
        tbody,
        h(
          "tr",
          {},
          h(
            "td",
            { colspan: COLUMNS.length, class: "empty" },
            Object.keys(fleetCounts).length === 0 ? "No hosts yet. Enroll an agent and its host appears here within seconds." : "No host matches this filter.",
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

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let typing;
  search.addEventListener("input", () => {
    state.q = search.value;
    state.offset = 0;
    // One request once typing pauses, not one per key.
    clearTimeout(typing);
    typing = setTimeout(reload, 200);
  });
  statusSel.addEventListener("change", () => {
    state.status = statusSel.value;
    state.offset = 0;
    renderTiles();
    reload();
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
      pager,
    ),
  );
  renderHead();
  renderTiles();
  replace(tbody, h("tr", {}, h("td", { colspan: COLUMNS.length, class: "empty" }, "Loading hosts…")));

  const poller = poll(async (signal) => {
    try {
      const view = { ...state, limit: PAGE };
      const [fleet, alerts] = await Promise.all([loadFleet(view, signal), loadActiveAlerts(signal).catch(() => null)]);
      // Past the end (hosts went away, or a narrower filter): back to the last page.
      if (fleet.rows.length === 0 && fleet.total > 0 && state.offset > 0) {
        state.offset = Math.floor((fleet.total - 1) / PAGE) * PAGE;
        again();
        return;
      }
      rows = fleet.rows;
      total = fleet.total;
      fleetCounts = fleet.counts;
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
      const all = Object.values(fleetCounts).reduce((n, v) => n + v, 0);
      subtitle.textContent = `${all.toLocaleString()} host${all === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`;
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

  function reload() {
    poller.now();
  }
  function again() {
    setTimeout(reload, 0);
  }

  return {
    destroy: () => {
      clearTimeout(typing);
      poller.stop();
    },
  };
}
