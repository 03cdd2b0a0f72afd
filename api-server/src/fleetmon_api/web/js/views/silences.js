// Silences: mute notifications of alerts matching a rule, a host and/or labels for a while.
// Created here by matcher or from an alert (the alerts page links with the rule and host
// filled in), expired early with one click; expired ones can be shown as a record.

import { get, post } from "../api.js";
import { h, replace } from "../dom.js";
import { ago, datetime, duration, formatSeconds, parseSeconds, toEpoch } from "../format.js";
import { isAbort, poll } from "../live.js";
import { errorText, field, formatPairs, input, parsePairs, select, toast } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../types/api").SilenceIn} SilenceIn */
/** @typedef {import("../types/api").SilenceOut} SilenceOut */
/** @typedef {import("../types/api").RuleOut} RuleOut */

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountSilences(main, { admin, query, navigate }) {
  document.title = "Silences · fleetmon";
  const errorBox = h("p", { class: "banner banner-error", role: "alert", id: "silence-error", hidden: true });
  const listBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const formSlot = h("div");
  const showExpired = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "show-expired" }));
  /** @type {Map<number, string>} */
  let ruleNames = new Map();
  /** @type {RuleOut[]} */
  let rules = [];

  /** @param {unknown} err */
  const showError = (err) => {
    errorBox.textContent = errorText(err);
    errorBox.hidden = false;
  };

  main.append(
    h(
      "section",
      { class: "page" },
      h(
        "div",
        { class: "page-head" },
        h("div", {}, h("h1", {}, "Silences"), h("p", { class: "muted page-sub" }, "Muted alerts still change state and are recorded; only notifications stop. When a silence ends, alerts still firing are notified at the next evaluation.")),
        admin ? h("button", { type: "button", class: "btn btn-primary", id: "new-silence", onclick: () => openForm(new URLSearchParams()) }, "New silence") : null,
      ),
      errorBox,
      formSlot,
      h("div", { class: "toolbar" }, h("label", { class: "check" }, showExpired, "Show expired silences")),
      listBody,
    ),
  );

  /** @param {SilenceOut} s */
  function matcher(s) {
    const parts = [];
    if (s.rule_id !== null) parts.push(h("span", {}, "rule ", h("a", { href: `#/rules/${s.rule_id}` }, ruleNames.get(s.rule_id) ?? `#${s.rule_id}`)));
    if (s.host) parts.push(h("span", {}, "host ", h("a", { href: `#/host/${encodeURIComponent(s.host)}` }, s.host)));
    if (Object.keys(s.labels).length) parts.push(h("span", { class: "mono" }, formatPairs(s.labels)));
    return parts.flatMap((p, i) => (i ? [" and ", p] : [p]));
  }

  /** @param {SilenceOut} s */
  function stateOf(s) {
    const now = Date.now() / 1000;
    const start = toEpoch(s.starts_at) ?? 0;
    const end = toEpoch(s.ends_at) ?? 0;
    if (s.active) return ["active", `ends in ${duration(end - now)}`];
    if (start > now) return ["pending", `starts in ${duration(start - now)}`];
    return ["expired", `ended ${ago(end)}`];
  }

  /** @param {SilenceOut} s */
  async function expire(s) {
    try {
      await post("/api/v1/alerts/silences/{silence_id}/expire", { path: { silence_id: s.id } });
      toast("Silence expired: alerts still firing are notified at the next evaluation");
      poller.now();
    } catch (err) {
      showError(err);
    }
  }

  /** @param {SilenceOut[]} list */
  function render(list) {
    if (!list.length) {
      replace(listBody, h("p", { class: "empty" }, showExpired.checked ? "No silence at all." : "Nothing is silenced."));
      return;
    }
    replace(
      listBody,
      h(
        "table",
        { class: "data-table", id: "silences-table" },
        h("thead", {}, h("tr", {}, ["Mutes", "State", "From", "Until", "Comment", "By", admin ? "" : null].filter((c) => c !== null).map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          list.map((s) => {
            const [state, note] = stateOf(s);
            return h(
              "tr",
              { "data-silence": String(s.id), "data-state": state },
              h("td", {}, matcher(s)),
              h("td", { class: "nowrap" }, h("span", { class: `state state-${state === "active" ? "silenced" : state}` }, state), " ", h("span", { class: "muted" }, note)),
              h("td", { class: "nowrap" }, datetime(toEpoch(s.starts_at))),
              h("td", { class: "nowrap" }, datetime(toEpoch(s.ends_at))),
              h("td", {}, s.comment),
              h("td", {}, s.created_by ?? "—"),
              admin ? h("td", {}, state === "expired" ? null : h("button", { type: "button", class: "btn btn-small", "aria-label": `Expire silence ${s.id}`, onclick: () => void expire(s) }, "Expire now")) : null,
            );
          }),
        ),
      ),
    );
  }

  /** @param {URLSearchParams} prefill rule_id, host */
  function openForm(prefill) {
    errorBox.hidden = true;
    const ruleIds = ["", ...rules.map((r) => String(r.id))];
    /** @type {Record<string, string>} */
    const ruleLabels = { "": "Any rule" };
    for (const r of rules) ruleLabels[String(r.id)] = r.name;
    const fRule = select("s-rule", ruleIds, prefill.get("rule_id") || "", ruleLabels);
    const fHost = input("s-host", { value: prefill.get("host") || "", placeholder: "any host" });
    const fLabels = input("s-labels", { placeholder: "env=staging" });
    const fFor = input("s-for", { value: "1h", required: true });
    const fComment = input("s-comment", { maxlength: 500, placeholder: "why (shown to everyone)" });
    const saveBtn = h("button", { type: "submit", class: "btn btn-primary", id: "silence-save" }, "Silence");
    const form = h(
      "form",
      { class: "card form-card", id: "silence-form", novalidate: true },
      h("h2", {}, "New silence"),
      h("p", { class: "hint" }, "Every criterion given must match; give at least one."),
      h("div", { class: "form-grid" }, field("Rule", fRule), field("Host", fHost), field("Labels", fLabels, "host or rule labels, alertname, severity: key=value, comma-separated"), field("For", fFor, "from now: 30m, 2h, 1d"), field("Comment", fComment)),
      h("div", { class: "form-actions" }, saveBtn, h("button", { type: "button", class: "btn btn-ghost", onclick: () => replace(formSlot) }, "Cancel")),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errorBox.hidden = true;
      try {
        const seconds = parseSeconds(fFor.value);
        if (!seconds) throw new Error(`For: “${fFor.value}” is not a duration (30m, 2h, 1d)`);
        /** @type {SilenceIn} */
        const body = {
          rule_id: fRule.value ? Number(fRule.value) : null,
          host: fHost.value.trim() || null,
          labels: parsePairs(fLabels.value, "Labels"),
          ends_at: new Date(Date.now() + seconds * 1000).toISOString(),
          comment: fComment.value.trim(),
        };
        const saved = await post("/api/v1/alerts/silences", { body });
        replace(formSlot);
        toast(`Silenced for ${formatSeconds(seconds)}`);
        if (query.get("new")) navigate("#/silences", { replaceState: true });
        else poller.now();
        return saved;
      } catch (err) {
        showError(err);
        return null;
      }
    });
    replace(formSlot, form);
    (prefill.get("rule_id") ? fFor : fRule).focus();
  }

  showExpired.addEventListener("change", () => poller.now());

  let first = true;
  const poller = poll(async (signal) => {
    try {
      const [list, ruleList] = await Promise.all([get("/api/v1/alerts/silences", { query: { include_expired: showExpired.checked }, signal }), get("/api/v1/alerts/rules", { signal })]);
      rules = ruleList;
      ruleNames = new Map(ruleList.map((r) => [r.id, r.name]));
      list.sort((a, b) => Number(!a.active) - Number(!b.active) || (toEpoch(b.ends_at) ?? 0) - (toEpoch(a.ends_at) ?? 0));
      render(list);
      errorBox.hidden = true;
      if (first && admin && query.get("new")) openForm(query);
      first = false;
    } catch (err) {
      if (!isAbort(err)) showError(err);
      throw err;
    }
  }, 15000);

  return { destroy: () => poller.stop() };
}
