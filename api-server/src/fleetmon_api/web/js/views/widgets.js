// Small presentational pieces shared by the views.

import { h } from "../dom.js";
import { isNum, pct } from "../format.js";

/** @typedef {import("../types/ui").Children} Children */

/** @param {string} status up, stale or down, as the server says */
export function statusPill(status) {
  const s = ["up", "stale", "down"].includes(status) ? status : "unknown";
  return h("span", { class: `status status-${s}`, "data-status": s }, h("span", { class: "dot", "aria-hidden": "true" }), s);
}

/** @param {number | null | undefined} v */
export function level(v) {
  if (!isNum(v)) return "none";
  return v >= 90 ? "crit" : v >= 75 ? "warn" : "ok";
}

/**
 * A percentage with a coloured bar.
 * @param {number | null | undefined} v
 * @param {string | null} [note]
 */
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

/**
 * @param {Record<string, unknown> | null | undefined} labels
 * @param {number} [max]
 */
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

/**
 * Order of a severity in the server's list (least to most severe); unknown ones rank lowest.
 * @param {string[]} severities from the server's UI config
 * @param {string} sev
 */
export function severityRank(severities, sev) {
  return severities.indexOf(sev) + 1;
}

/** @param {string} sev */
export function severityBadge(sev) {
  return h("span", { class: `sev sev-${sev}` }, sev);
}

/**
 * The firing-alert count in the top navigation (hidden when zero or unknown).
 * @param {number} count
 */
export function setAlertBadge(count) {
  const badge = document.getElementById("alert-count");
  if (!badge) return;
  badge.hidden = !count;
  badge.textContent = count ? String(count) : "";
  badge.setAttribute("aria-label", `${count} firing`);
}

/**
 * A labelled form control with an optional hint under it.
 * @param {string} label
 * @param {HTMLElement} control must have an id
 * @param {Children} [hint]
 */
export function field(label, control, hint) {
  const hintId = hint ? `${control.id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hint ? h("p", { class: "hint", id: hintId }, hint) : null);
}

/**
 * A <select> of plain string options.
 * @param {string} id
 * @param {string[]} options
 * @param {string} value
 * @param {Record<string, string>} [labels] shown text per option
 */
export function select(id, options, value, labels = {}) {
  return /** @type {HTMLSelectElement} */ (h("select", { id, name: id }, options.map((o) => h("option", { value: o, selected: o === value }, labels[o] ?? o))));
}

/**
 * An <input>.
 * @param {string} id
 * @param {Record<string, unknown>} [attrs]
 */
export function input(id, attrs = {}) {
  return /** @type {HTMLInputElement} */ (h("input", { id, name: id, autocomplete: "off", ...attrs }));
}

/**
 * "k=v, k2=v2" -> {k: "v", k2: "v2"}; throws a message naming the bad part.
 * @param {string} text
 * @param {string} what
 */
export function parsePairs(text, what) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`${what}: “${part}” must be key=value`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** @param {Record<string, unknown> | null | undefined} pairs */
export function formatPairs(pairs) {
  return Object.entries(pairs || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

/**
 * The text of an error for a person.
 * @param {unknown} err
 */
export function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

/** A toast at the bottom of the screen, for outcomes of actions. @param {string} text */
export function toast(text) {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  clearTimeout(Number(el.dataset.timer || 0));
  el.dataset.timer = String(setTimeout(() => { el.hidden = true; }, 4000));
}
