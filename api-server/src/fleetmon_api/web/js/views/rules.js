// Alert rules: the list (enable/disable in place) and one rule's form with a preview
// against current data ("would fire on 3 hosts now"). Viewers read; admins change.

import { del, get, post, put } from "../api.js";
import { h, replace } from "../dom.js";
import { formatSeconds, num, parseSeconds } from "../format.js";
import { loadActiveAlerts } from "../model.js";
import { isAbort, poll } from "../live.js";
import { errorText, field, formatPairs, input, parsePairs, select, severityBadge, toast } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../types/api").RuleIn} RuleIn */
/** @typedef {import("../types/api").RuleOut} RuleOut */
/** @typedef {import("../types/api").PreviewOut} PreviewOut */

/**
 * The rule as the API takes it back (a PUT replaces every field).
 * @param {RuleOut} r
 * @returns {RuleIn}
 */
export function ruleBody(r) {
  return {
    name: r.name,
    kind: r.kind,
    metric: r.metric,
    tags: r.tags,
    aggregate: r.aggregate,
    window_s: r.window_s,
    comparison: r.comparison,
    threshold: r.threshold,
    for_s: r.for_s,
    keep_firing_for_s: r.keep_firing_for_s,
    severity: r.severity,
    scope: r.scope,
    labels: r.labels,
    annotations: r.annotations,
    channels: r.channels,
    enabled: r.enabled,
  };
}

/**
 * "avg cpu.usage_active{cpu=cpu-total} > 80 over 1m, for 5m" (or "no data for 2m").
 * @param {RuleIn} r
 */
export function conditionText(r) {
  const window = formatSeconds(r.window_s ?? 60);
  const hold = r.for_s ? `, for ${formatSeconds(r.for_s)}` : "";
  if (r.kind === "host_down") return `no data for ${window}${hold}`;
  if (r.kind === "data_loss") return `points dropped or refused ${r.comparison ?? ">"} ${num(r.threshold ?? 0, 0)} in ${window}${hold}`;
  if (r.kind === "clock_skew") return `clock off by ${r.comparison ?? ">"} ${num(r.threshold ?? 0, 0)} s${hold}`;
  const tags = Object.keys(r.tags || {}).length ? `{${formatPairs(r.tags)}}` : "";
  return `${r.aggregate ?? "avg"} ${r.metric}${tags} ${r.comparison ?? ">"} ${num(r.threshold ?? 0, 2)} over ${window}${hold}`;
}

/** @param {RuleIn} r */
function scopeText(r) {
  const hosts = (r.scope && r.scope.hosts) || [];
  const labels = (r.scope && r.scope.labels) || {};
  const parts = [];
  if (hosts.length) parts.push(hosts.join(", "));
  if (Object.keys(labels).length) parts.push(formatPairs(labels));
  return parts.length ? parts.join("; ") : "every host";
}

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountRules(main, { admin }) {
  document.title = "Rules · fleetmon";
  const body = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const errorBox = h("p", { class: "banner banner-error", role: "alert", hidden: true });
  main.append(
    h(
      "section",
      { class: "page" },
      h(
        "div",
        { class: "page-head" },
        h("div", {}, h("h1", {}, "Alert rules"), h("p", { class: "muted page-sub" }, admin ? "What the alert worker watches. Changes apply at its next evaluation." : "What the alert worker watches (read-only: changing rules needs the admin role).")),
        admin ? h("a", { class: "btn btn-primary", href: "#/rules/new", id: "new-rule" }, "New rule") : null,
      ),
      errorBox,
      body,
    ),
  );

  /** @type {RuleOut[]} */
  let rules = [];
  /** @type {Map<number, number>} */
  let firing = new Map();

  /** @param {RuleOut} r */
  function toggle(r) {
    const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", checked: r.enabled !== false, disabled: !admin, "aria-label": `${r.name} enabled` }));
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        const saved = await put("/api/v1/alerts/rules/{rule_id}", { path: { rule_id: r.id }, body: { ...ruleBody(r), enabled: box.checked } });
        rules = rules.map((x) => (x.id === saved.id ? saved : x));
        toast(`${saved.name} ${saved.enabled ? "enabled" : "disabled"}`);
      } catch (err) {
        box.checked = !box.checked;
        errorBox.textContent = `Could not change ${r.name}: ${errorText(err)}`;
        errorBox.hidden = false;
      } finally {
        box.disabled = !admin;
      }
    });
    return box;
  }

  function render() {
    if (!rules.length) {
      replace(body, h("p", { class: "empty" }, "No rule yet."));
      return;
    }
    replace(
      body,
      h(
        "table",
        { class: "data-table", id: "rules-table" },
        h("thead", {}, h("tr", {}, ["On", "Rule", "Condition", "Severity", "Scope", "Channels", "Firing"].map((c) => h("th", { scope: "col", class: c === "Firing" ? "num" : null }, c)))),
        h(
          "tbody",
          {},
          rules.map((r) =>
            h(
              "tr",
              { "data-rule": r.name, class: r.enabled === false ? "row-disabled" : null },
              h("td", {}, toggle(r)),
              h("td", { class: "strong" }, h("a", { href: `#/rules/${r.id}` }, r.name), r.builtin ? h("span", { class: "muted" }, " (default)") : null),
              h("td", { class: "mono" }, conditionText(r)),
              h("td", {}, severityBadge(r.severity ?? "warning")),
              h("td", {}, scopeText(r)),
              h("td", {}, r.channels && r.channels.length ? r.channels.join(", ") : h("span", { class: "muted" }, "all")),
              h("td", { class: "num" }, firing.get(r.id) ? h("a", { href: `#/alerts?rule_id=${r.id}`, class: "alert-flag sev-critical" }, String(firing.get(r.id))) : "0"),
            ),
          ),
        ),
      ),
    );
  }

  const poller = poll(async (signal) => {
    try {
      const [list, active] = await Promise.all([get("/api/v1/alerts/rules", { signal }), loadActiveAlerts(signal)]);
      rules = list;
      firing = new Map();
      for (const a of active) if (a.status === "firing") firing.set(a.ruleId, (firing.get(a.ruleId) || 0) + 1);
      render();
      errorBox.hidden = true;
    } catch (err) {
      if (!isAbort(err)) {
        errorBox.textContent = `Could not load the rules: ${errorText(err)}`;
        errorBox.hidden = false;
      }
      throw err;
    }
  }, 15000);
  return { destroy: () => poller.stop() };
}

/**
 * One rule: create (ruleId null) or edit; preview against current data; delete.
 * @param {HTMLElement} main
 * @param {ViewContext & {ruleId: number | null}} ctx
 * @returns {View}
 */
export function mountRuleForm(main, { ruleId, admin, config, navigate }) {
  /** @type {import("../types/api").AlertingOut} */
  const vocab = config ? config.alerting : { severities: [], rule_kinds: [], aggregates: [], comparisons: [], channel_kinds: [] };
  document.title = `${ruleId === null ? "New rule" : "Rule"} · fleetmon`;
  const errorBox = h("p", { class: "banner banner-error", role: "alert", id: "rule-error", hidden: true });
  const title = h("h1", {}, ruleId === null ? "New rule" : "Rule");

  const fName = input("r-name", { required: true, maxlength: 128 });
  const fKind = select("r-kind", vocab.rule_kinds, "threshold", { threshold: "threshold (a metric crosses a value)", host_down: "host down (no data)", agent_health: "agent health (fleetmon_agent metric)", data_loss: "data loss (points dropped or refused)", clock_skew: "clock skew (host clock offset, s)" });
  const fMetric = input("r-metric", { placeholder: "cpu.usage_active", spellcheck: "false" });
  const fTags = input("r-tags", { placeholder: "cpu=cpu-total" });
  const fAggregate = select("r-aggregate", vocab.aggregates, "avg");
  const fComparison = select("r-comparison", vocab.comparisons, ">");
  const fThreshold = input("r-threshold", { type: "number", step: "any", value: "80", required: true });
  const fWindow = input("r-window", { value: "1m", required: true });
  const fFor = input("r-for", { value: "0s" });
  const fKeep = input("r-keep", { value: "0s" });
  const fSeverity = select("r-severity", vocab.severities, "warning");
  const fHosts = input("r-hosts", { placeholder: "every host" });
  const fLabels = input("r-labels", { placeholder: "env=prod" });
  const fSummary = input("r-summary", { placeholder: "CPU $value % on $host (> $threshold %)", maxlength: 2000 });
  const fEnabled = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "r-enabled", checked: true }));
  const channelBox = h("fieldset", { class: "field channel-choice", id: "r-channels" }, h("legend", {}, "Notify"), h("p", { class: "hint" }, "Loading channels…"));
  /** @type {string[]} */
  let chosenChannels = [];
  const metricFields = [fMetric, fTags, fAggregate, fComparison, fThreshold];

  const previewBtn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn", id: "rule-preview" }, "Preview on current data"));
  const saveBtn = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", id: "rule-save" }, ruleId === null ? "Create rule" : "Save"));
  const deleteBtn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-danger", id: "rule-delete", hidden: ruleId === null }, "Delete"));
  const previewOut = h("div", { class: "preview", id: "preview-result", "aria-live": "polite" });

  const form = h(
    "form",
    { class: "card form-card", id: "rule-form", novalidate: true },
    h(
      "div",
      { class: "form-grid" },
      field("Name", fName),
      field("Kind", fKind),
      field("Metric", fMetric, "measurement.field, as the agent sends it (Telegraf names)"),
      field("Tags", fTags, "exact matches, key=value, comma-separated"),
      field("Aggregate", fAggregate),
      field("Over the last", fWindow, "window: 90s, 5m, 1h"),
      field("Comparison", fComparison),
      field("Threshold", fThreshold),
      field("For", fFor, "how long it must hold before firing (pending meanwhile)"),
      field("Keep firing for", fKeep, "how long it must stay false before resolving"),
      field("Severity", fSeverity),
      field("Hosts", fHosts, "comma-separated names; empty: every host"),
      field("Host labels", fLabels, "key=value, comma-separated"),
      field("Summary", fSummary, "$host, $value, $threshold, $metric, $rule, $label_<name>"),
    ),
    channelBox,
    h("div", { class: "field field-inline" }, fEnabled, h("label", { for: "r-enabled" }, "Enabled")),
    h("div", { class: "form-actions" }, previewBtn, admin ? saveBtn : null, admin ? deleteBtn : null, h("a", { class: "btn btn-ghost", href: "#/rules" }, "Back to rules")),
  );
  main.append(h("section", { class: "page" }, h("a", { href: "#/rules", class: "back-link" }, "Rules"), h("div", { class: "page-head" }, h("div", {}, title, admin ? null : h("p", { class: "muted page-sub" }, "Read-only: changing rules needs the admin role."))), errorBox, form, h("h2", { class: "section-title" }, "Preview"), previewOut));

  function syncKind() {
    const hostDown = fKind.value === "host_down";
    // data_loss and clock_skew watch the host's record: no metric, tags or aggregate.
    const record = fKind.value === "data_loss" || fKind.value === "clock_skew";
    for (const el of metricFields) {
      const wrap = el.closest(".field");
      if (wrap instanceof HTMLElement) wrap.hidden = (record && (el === fMetric || el === fTags || el === fAggregate)) || (hostDown && el !== fMetric);
    }
    if (record) fMetric.value = "";
  }
  fKind.addEventListener("change", syncKind);
  if (!admin) for (const el of form.querySelectorAll("input, select")) if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) el.disabled = true;

  /** @param {RuleOut} r */
  function fill(r) {
    title.textContent = r.name;
    document.title = `${r.name} · fleetmon`;
    fName.value = r.name;
    fKind.value = r.kind ?? "threshold";
    fMetric.value = r.metric ?? "";
    fTags.value = formatPairs(r.tags);
    fAggregate.value = r.aggregate ?? "avg";
    fComparison.value = r.comparison ?? ">";
    fThreshold.value = String(r.threshold ?? 0);
    fWindow.value = formatSeconds(r.window_s ?? 60);
    fFor.value = formatSeconds(r.for_s ?? 0);
    fKeep.value = formatSeconds(r.keep_firing_for_s ?? 0);
    fSeverity.value = r.severity ?? "warning";
    fHosts.value = ((r.scope && r.scope.hosts) || []).join(", ");
    fLabels.value = formatPairs(r.scope && r.scope.labels);
    fSummary.value = typeof (r.annotations || {}).summary === "string" ? String((r.annotations || {}).summary) : "";
    fEnabled.checked = r.enabled !== false;
    chosenChannels = r.channels || [];
    syncKind();
  }

  /** @type {RuleOut | null} */
  let loaded = null;

  /**
   * The form as a rule body; throws a message naming the field that is wrong.
   * @returns {RuleIn}
   */
  function body() {
    /**
     * @param {HTMLInputElement} el
     * @param {string} what
     */
    const seconds = (el, what) => {
      const s = parseSeconds(el.value);
      if (s === null) throw new Error(`${what}: “${el.value}” is not a duration (90s, 5m, 1h)`);
      return s;
    };
    const threshold = Number(fThreshold.value);
    if (fThreshold.value.trim() === "" || !Number.isFinite(threshold)) throw new Error("Threshold: enter a number");
    const annotations = { ...((loaded && loaded.annotations) || {}) };
    if (fSummary.value.trim()) annotations.summary = fSummary.value.trim();
    else delete annotations.summary;
    const checked = [...channelBox.querySelectorAll("input:checked")].map((el) => (el instanceof HTMLInputElement ? el.value : ""));
    return {
      name: fName.value.trim(),
      kind: /** @type {RuleIn["kind"]} */ (fKind.value),
      metric: fMetric.value.trim(),
      tags: parsePairs(fTags.value, "Tags"),
      aggregate: /** @type {RuleIn["aggregate"]} */ (fAggregate.value),
      window_s: seconds(fWindow, "Over the last"),
      comparison: /** @type {RuleIn["comparison"]} */ (fComparison.value),
      threshold,
      for_s: seconds(fFor, "For"),
      keep_firing_for_s: seconds(fKeep, "Keep firing for"),
      severity: /** @type {RuleIn["severity"]} */ (fSeverity.value),
      scope: { hosts: fHosts.value.split(",").map((s) => s.trim()).filter(Boolean), labels: parsePairs(fLabels.value, "Host labels") },
      labels: (loaded && loaded.labels) || {},
      annotations,
      channels: admin ? checked : chosenChannels,
      enabled: fEnabled.checked,
    };
  }

  /** @param {unknown} err */
  function showError(err) {
    errorBox.textContent = errorText(err);
    errorBox.hidden = false;
  }

  /**
   * @param {PreviewOut} p
   * @param {RuleIn} rule
   */
  function renderPreview(p, rule) {
    const n = p.matching;
    const hosts = (/** @type {number} */ k) => `${k} host${k === 1 ? "" : "s"}`;
    const scope = p.hosts_in_scope === null ? `${hosts(p.hosts_with_data)} reporting` : `${hosts(p.hosts_in_scope)} in scope, ${p.hosts_with_data} reporting`;
    let verdict;
    if (n === 0) verdict = `Would not fire: the condition holds on no host now (${scope}).`;
    else if (p.would_fire_now) verdict = `Would fire on ${hosts(n)} now (${scope}).`;
    else verdict = `The condition holds on ${hosts(n)} now (${scope}): they would be pending, and fire if it still holds after ${formatSeconds(rule.for_s ?? 0)}.`;
    const valueHead = rule.kind === "host_down" ? "Silent for" : "Value";
    replace(
      previewOut,
      h("p", { class: `preview-verdict ${n ? "verdict-hit" : "verdict-clear"}`, id: "preview-verdict" }, verdict),
      p.hosts.length
        ? h(
            "div",
            { class: "card table-wrap" },
            h(
              "table",
              { class: "data-table", id: "preview-hosts" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Host"), h("th", { scope: "col" }, "Condition"), h("th", { scope: "col", class: "num" }, valueHead), h("th", { scope: "col" }, "Series"))),
              h(
                "tbody",
                {},
                p.hosts.map((r) =>
                  h(
                    "tr",
                    { "data-host": r.host, class: r.matches ? "row-hit" : null },
                    h("td", {}, h("a", { href: `#/host/${encodeURIComponent(r.host)}` }, r.host)),
                    h("td", {}, r.matches ? h("span", { class: "state state-firing" }, "holds") : h("span", { class: "state state-resolved" }, "clear")),
                    h("td", { class: "num" }, rule.kind === "host_down" ? formatSeconds(Math.round(r.value ?? 0)) : num(r.value, 2)),
                    h("td", { class: "muted" }, r.series.length > 1 ? `${r.series.filter((s) => s.matches).length} of ${r.series.length} series hold` : r.series.map((s) => formatPairs(s.tags)).join("")),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "empty" }, "No host has data for this metric in the window."),
    );
  }

  previewBtn.addEventListener("click", async () => {
    errorBox.hidden = true;
    let rule;
    try {
      rule = body();
    } catch (err) {
      showError(err);
      return;
    }
    previewBtn.disabled = true;
    replace(previewOut, h("p", { class: "muted" }, "Evaluating…"));
    try {
      renderPreview(await post("/api/v1/alerts/rules/preview", { body: rule }), rule);
    } catch (err) {
      replace(previewOut);
      showError(err);
    } finally {
      previewBtn.disabled = false;
    }
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!admin) return;
    errorBox.hidden = true;
    saveBtn.disabled = true;
    try {
      const rule = body();
      const saved = ruleId === null ? await post("/api/v1/alerts/rules", { body: rule }) : await put("/api/v1/alerts/rules/{rule_id}", { path: { rule_id: ruleId }, body: rule });
      toast(`Saved ${saved.name}`);
      navigate("#/rules");
    } catch (err) {
      showError(err);
    } finally {
      saveBtn.disabled = false;
    }
  });

  deleteBtn.addEventListener("click", async () => {
    if (ruleId === null || !loaded) return;
    if (!window.confirm(`Delete the rule “${loaded.name}” and its alerts? Its history stays.`)) return;
    try {
      await del("/api/v1/alerts/rules/{rule_id}", { path: { rule_id: ruleId } });
      toast(`Deleted ${loaded.name}`);
      navigate("#/rules");
    } catch (err) {
      showError(err);
    }
  });

  /** @param {string[]} names */
  function renderChannels(names) {
    if (!names.length) {
      replace(channelBox, h("legend", {}, "Notify"), h("p", { class: "hint" }, "No channel yet: ", h("a", { href: "#/channels" }, "add one"), ". A rule with no channel ticked notifies every enabled channel."));
      return;
    }
    replace(
      channelBox,
      h("legend", {}, "Notify"),
      names.map((n) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "channel", value: n, checked: chosenChannels.includes(n) }), n)),
      h("p", { class: "hint" }, "None ticked: every enabled channel that takes this severity."),
    );
  }

  (async () => {
    try {
      if (ruleId !== null) {
        if (!Number.isInteger(ruleId) || ruleId < 1) throw new Error("No such rule.");
        loaded = await get("/api/v1/alerts/rules/{rule_id}", { path: { rule_id: ruleId } });
        fill(loaded);
      } else {
        syncKind();
        fName.focus();
      }
      if (admin) renderChannels((await get("/api/v1/alerts/channels")).map((c) => c.name));
      else replace(channelBox, h("legend", {}, "Notify"), h("p", {}, chosenChannels.length ? chosenChannels.join(", ") : "every enabled channel"));
    } catch (err) {
      if (!isAbort(err)) showError(err);
    }
  })();

  return { destroy() {} };
}
