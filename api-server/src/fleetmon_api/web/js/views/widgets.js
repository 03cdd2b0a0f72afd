// Small presentational pieces shared by the views.

import { h } from "../dom.js";
import { isNum, pct } from "../format.js";

export function statusPill(status) {
  const s = ["up", "stale", "down"].includes(status) ? status : "unknown";
  return h("span", { class: `status status-${s}`, "data-status": s }, h("span", { class: "dot", "aria-hidden": "true" }), s);
}

export function level(v) {
  if (!isNum(v)) return "none";
  return v >= 90 ? "crit" : v >= 75 ? "warn" : "ok";
}

export function meter(v, note) {
  const w = isNum(v) ? Math.max(0, Math.min(100, v)) : 0;
  const bar = h("span", { class: `meter-fill lvl-${level(v)}` });
  // Width through CSSOM (allowed by the CSP), not a style attribute.
  bar.style.width = `${w}%`;
  return h(
    "span",
    { class: "meter" },
    h("span", { class: "meter-value" }, pct(v)),
    isNum(v) ? h("span", { class: "meter-track", "aria-hidden": "true" }, bar) : null,
    note ? h("span", { class: "meter-note" }, note) : null,
  );
}

export function labelChips(labels, max = Infinity) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return null;
  const shown = entries.slice(0, max);
  return h(
    "span",
    { class: "chips" },
    shown.map(([k, v]) => h("span", { class: "chip" }, h("span", { class: "chip-k" }, k), "=", String(v))),
    entries.length > max ? h("span", { class: "chip chip-more", title: entries.slice(max).map(([k, v]) => `${k}=${v}`).join(", ") }, `+${entries.length - max}`) : null,
  );
}

const SEVERITY = { critical: 3, error: 3, warning: 2, info: 1 };
export const severityRank = (s) => SEVERITY[s] || 0;

export function severityBadge(sev) {
  const s = String(sev || "info");
  return h("span", { class: `sev sev-${s}` }, s);
}

// The firing-alert count in the top navigation (hidden when zero or unknown).
export function setAlertBadge(count) {
  const badge = document.getElementById("alert-count");
  if (!badge) return;
  badge.hidden = !count;
  badge.textContent = count ? String(count) : "";
  badge.setAttribute("aria-label", `${count} firing`);
}
