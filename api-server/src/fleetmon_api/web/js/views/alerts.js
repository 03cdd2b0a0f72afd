// Alerts: what is firing now (silence it from here) and the history of state changes,
// filtered by rule, host, severity, new state and time range (filters kept in the URL).

import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { ago, datetime, num, toEpoch } from "../format.js";
import { loadActiveAlerts } from "../model.js";
import { isAbort, poll } from "../live.js";
import { errorText, field, input, select, severityBadge, severityRank, setAlertBadge } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../types/api").EventOut} EventOut */
/** @typedef {import("../types/api").RuleOut} RuleOut */
/** @typedef {import("../model.js").AlertRow} AlertRow */

const PAGE = 50;
/** @type {Record<string, number>} */
const SINCE = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const STATES = ["pending", "firing", "resolved", "inactive"];

/** @param {string} name */
function hostLink(name) {
  return name ? h("a", { href: `#/host/${encodeURIComponent(name)}` }, name) : "—";
}

/** @param {string} s */
function stateTag(s) {
  return h("span", { class: `state state-${s}` }, s);
}

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountAlerts(main, { query, admin, config, navigate }) {
  document.title = "Alerts · fleetmon";
  const severities = config ? config.alerting.severities : [];
  const activeBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const historyBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const activeCount = h("span", { class: "count-badge" });
  const errorBox = h("p", { class: "banner banner-error", role: "alert", hidden: true });
  const more = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn", id: "history-more", hidden: true }, "Older changes"));

  // Filters: the URL is the truth, the form mirrors it.
  const fRule = select("f-rule", [""], "", { "": "Any rule" });
  const fHost = input("f-host", { type: "search", placeholder: "Any host" });
  const fSeverity = select("f-severity", ["", ...severities], "", { "": "Any severity" });
  const fState = select("f-state", ["", ...STATES], "", { "": "Any new state" });
  const fSince = select("f-since", ["", ...Object.keys(SINCE)], "", { "": "All time", "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" });
  const filters = h(
    "form",
    { class: "filters", id: "history-filters", role: "search", "aria-label": "Filter the history" },
    field("Rule", fRule),
    field("Host", fHost),
    field("Severity", fSeverity),
    field("New state", fState),
    field("Time", fSince),
    h("div", { class: "field field-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Apply"), h("button", { type: "button", class: "btn btn-ghost", id: "f-clear", onclick: () => navigate("#/alerts") }, "Clear")),
  );

  /** @param {URLSearchParams} q */
  function showFilters(q) {
    fRule.value = q.get("rule_id") || "";
    fHost.value = q.get("host") || "";
    fSeverity.value = q.get("severity") || "";
    fState.value = q.get("to_status") || "";
    fSince.value = q.get("since") || "";
  }
  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (fRule.value) q.set("rule_id", fRule.value);
    if (fHost.value.trim()) q.set("host", fHost.value.trim());
    if (fSeverity.value) q.set("severity", fSeverity.value);
    if (fState.value) q.set("to_status", fState.value);
    if (fSince.value) q.set("since", fSince.value);
    const text = q.toString();
    navigate(text ? `#/alerts?${text}` : "#/alerts");
  });

  main.append(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Alerts"), h("p", { class: "muted page-sub" }, "Firing and pending alerts across the fleet, and every state change."))),
      errorBox,
      h("h2", { class: "section-title" }, "Active ", activeCount),
      activeBody,
      h("h2", { class: "section-title" }, "History"),
      filters,
      historyBody,
      h("div", { class: "pager" }, more),
    ),
  );

  /** @param {AlertRow[]} list */
  function renderActive(list) {
    activeCount.textContent = String(list.length);
    if (!list.length) {
      replace(activeBody, h("p", { class: "empty ok-empty" }, "All clear: no alert is firing."));
      return;
    }
    list.sort((a, b) => Number(a.status !== "firing") - Number(b.status !== "firing") || severityRank(severities, b.severity) - severityRank(severities, a.severity) || (a.since || 0) - (b.since || 0));
    const cols = ["Severity", "Alert", "Host", "State", "Value", "Since", "Summary"];
    if (admin) cols.push("");
    replace(
      activeBody,
      h(
        "table",
        { class: "data-table", id: "active-alerts" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c === "Value" ? "num" : null }, c)))),
        h(
          "tbody",
          {},
          list.map((a) =>
            h(
              "tr",
              { "data-rule": a.rule, "data-host": a.host },
              h("td", {}, severityBadge(a.severity)),
              h("td", { class: "strong" }, h("a", { href: `#/rules/${a.ruleId}` }, a.rule)),
              h("td", {}, hostLink(a.host)),
              h("td", {}, stateTag(a.status)),
              h("td", { class: "num" }, num(a.value, 2)),
              h("td", { class: "nowrap", title: datetime(a.since) }, ago(a.since)),
              h("td", { class: "summary" }, a.summary),
              admin
                ? h("td", {}, h("a", { class: "btn btn-small", href: `#/silences?new=1&rule_id=${a.ruleId}&host=${encodeURIComponent(a.host)}`, "aria-label": `Silence ${a.rule} on ${a.host}` }, "Silence…"))
                : null,
            ),
          ),
        ),
      ),
    );
  }

  /** @param {EventOut} e */
  function changeCell(e) {
    if (e.to_status === "test") {
      const channel = typeof e.details.channel === "string" ? e.details.channel : "?";
      return h("td", { class: "nowrap" }, `test notification to ${channel}`);
    }
    const repeat = e.from_status === e.to_status && e.details.repeat === true;
    return h("td", { class: "nowrap" }, stateTag(e.from_status), " → ", stateTag(e.to_status), repeat ? h("span", { class: "muted" }, " (repeat)") : null, typeof e.details.silenced_by === "number" ? h("span", { class: "muted" }, " (silenced)") : null);
  }

  /** @type {EventOut[]} */
  let events = [];
  let exhausted = false;

  function renderHistory() {
    more.hidden = exhausted || !events.length;
    if (!events.length) {
      replace(historyBody, h("p", { class: "empty" }, "No state change matches."));
      return;
    }
    replace(
      historyBody,
      h(
        "table",
        { class: "data-table", id: "alert-history" },
        h("thead", {}, h("tr", {}, ["Time", "Severity", "Alert", "Host", "Change", "Value"].map((c) => h("th", { scope: "col", class: c === "Value" ? "num" : null }, c)))),
        h(
          "tbody",
          {},
          events.map((e) => {
            const at = toEpoch(e.at);
            return h(
              "tr",
              {},
              h("td", { class: "nowrap", title: ago(at) }, datetime(at)),
              h("td", {}, severityBadge(e.severity)),
              h("td", { class: "strong" }, e.rule_id !== null ? h("a", { href: `#/alerts?rule_id=${e.rule_id}` }, e.rule_name) : e.rule_name),
              h("td", {}, e.to_status === "test" ? "—" : hostLink(e.host)),
              changeCell(e),
              h("td", { class: "num" }, num(e.value, 2)),
            );
          }),
        ),
      ),
    );
  }

  let current = query;

  /**
   * @param {number | undefined} beforeId
   * @param {AbortSignal} [signal]
   */
  async function fetchHistory(beforeId, signal) {
    const since = SINCE[current.get("since") || ""];
    const ruleId = Number(current.get("rule_id")) || undefined;
    const sev = current.get("severity") || undefined;
    const state = current.get("to_status") || undefined;
    return get("/api/v1/alerts/history", {
      query: {
        rule_id: ruleId,
        host: current.get("host") || undefined,
        severity: /** @type {"info" | "warning" | "critical" | undefined} */ (sev),
        to_status: /** @type {"inactive" | "pending" | "firing" | "resolved" | undefined} */ (state),
        start: since ? new Date(Date.now() - since * 1000).toISOString() : undefined,
        before_id: beforeId,
        limit: PAGE,
      },
      signal,
    });
  }

  more.addEventListener("click", async () => {
    const last = events[events.length - 1];
    if (!last) return;
    more.disabled = true;
    try {
      const older = await fetchHistory(last.id);
      events = events.concat(older);
      exhausted = older.length < PAGE;
      renderHistory();
    } catch (err) {
      errorBox.textContent = `Could not load older changes: ${errorText(err)}`;
      errorBox.hidden = false;
    } finally {
      more.disabled = false;
    }
  });

  /** @param {RuleOut[]} rules */
  function fillRules(rules) {
    const keep = current.get("rule_id") || "";
    replace(fRule, h("option", { value: "" }, "Any rule"), rules.map((r) => h("option", { value: String(r.id), selected: String(r.id) === keep }, r.name)));
  }

  showFilters(current);
  get("/api/v1/alerts/rules").then(fillRules, () => undefined);

  const poller = poll(async (signal) => {
    try {
      // Refreshing keeps the pages already loaded: only the newest page is re-read.
      const [active, newest] = await Promise.all([loadActiveAlerts(signal), fetchHistory(undefined, signal)]);
      renderActive(active);
      setAlertBadge(active.filter((a) => a.status === "firing").length);
      if (events.length <= PAGE) {
        events = newest;
        exhausted = newest.length < PAGE;
      } else {
        const known = new Set(events.map((e) => e.id));
        events = newest.filter((e) => !known.has(e.id)).concat(events);
      }
      renderHistory();
      errorBox.hidden = true;
    } catch (err) {
      if (!isAbort(err)) {
        errorBox.textContent = `Could not load alerts: ${errorText(err)}`;
        errorBox.hidden = false;
      }
      throw err;
    }
  }, 10000);

  return {
    update(q) {
      current = q;
      showFilters(q);
      events = [];
      replace(historyBody, h("p", { class: "empty" }, "Loading…"));
      poller.now();
    },
    destroy: () => poller.stop(),
  };
}
