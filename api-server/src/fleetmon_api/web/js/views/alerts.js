// Alerts: what is firing now and what changed recently, straight from the alerts API.

import { h, replace } from "../dom.js";
import { ago, datetime, num } from "../format.js";
import { loadActiveAlerts, loadAlertHistory } from "../model.js";
import { poll } from "../live.js";
import { severityBadge, severityRank, setAlertBadge } from "./widgets.js";

function hostLink(name) {
  return name ? h("a", { href: `#/host/${encodeURIComponent(name)}` }, name) : "—";
}

export function mountAlerts(main) {
  document.title = "Alerts · fleetmon";
  const activeBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const historyBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const activeCount = h("span", { class: "count-badge" });
  const unavailable = h("p", { class: "banner", hidden: true }, "The alerts API is not available on this server.");

  main.append(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Alerts"), h("p", { class: "muted page-sub" }, "Firing and pending alerts across the fleet, and recent state changes."))),
      unavailable,
      h("h2", { class: "section-title" }, "Active ", activeCount),
      activeBody,
      h("h2", { class: "section-title" }, "Recent history"),
      historyBody,
    ),
  );

  function renderActive(list) {
    activeCount.textContent = String(list.length);
    if (!list.length) {
      replace(activeBody, h("p", { class: "empty ok-empty" }, "All clear: no alert is firing."));
      return;
    }
    list.sort((a, b) => (a.status !== "firing") - (b.status !== "firing") || severityRank(b.severity) - severityRank(a.severity) || (a.since || 0) - (b.since || 0));
    replace(
      activeBody,
      h(
        "table",
        { class: "data-table", id: "active-alerts" },
        h("thead", {}, h("tr", {}, ["Severity", "Alert", "Host", "State", "Value", "Since", "Summary"].map((c) => h("th", { scope: "col", class: c === "Value" ? "num" : null }, c)))),
        h(
          "tbody",
          {},
          list.map((a) =>
            h(
              "tr",
              {},
              h("td", {}, severityBadge(a.severity)),
              h("td", { class: "strong" }, a.rule),
              h("td", {}, hostLink(a.host)),
              h("td", {}, h("span", { class: `state state-${a.status}` }, a.status)),
              h("td", { class: "num" }, num(a.value, 2)),
              h("td", { class: "nowrap", title: datetime(a.since) }, ago(a.since)),
              h("td", { class: "summary" }, a.summary || ""),
            ),
          ),
        ),
      ),
    );
  }

  function renderHistory(list) {
    if (!list.length) {
      replace(historyBody, h("p", { class: "empty" }, "No alert changed state recently."));
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
          list.map((e) =>
            h(
              "tr",
              {},
              h("td", { class: "nowrap" }, datetime(e.at)),
              h("td", {}, severityBadge(e.severity)),
              h("td", { class: "strong" }, e.rule),
              h("td", {}, hostLink(e.host)),
              h("td", { class: "nowrap" }, h("span", { class: `state state-${e.from}` }, e.from), " → ", h("span", { class: `state state-${e.to}` }, e.to)),
              h("td", { class: "num" }, num(e.value, 2)),
            ),
          ),
        ),
      ),
    );
  }

  const poller = poll(async (signal) => {
    const [active, history] = await Promise.all([loadActiveAlerts(signal), loadAlertHistory(signal)]);
    unavailable.hidden = active !== null || history !== null;
    if (active === null) replace(activeBody, h("p", { class: "empty" }, "Not available."));
    else {
      renderActive(active);
      setAlertBadge(active.filter((a) => a.status === "firing").length);
    }
    if (history === null) replace(historyBody, h("p", { class: "empty" }, "Not available."));
    else renderHistory(history);
  }, 10000);

  return { destroy: () => poller.stop() };
}
