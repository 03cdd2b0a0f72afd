// Notification channels (admins only): list, create, edit, test and preview (what the channel
// would send for a sample or an actual alert, rendered by the worker's code). Secrets are write-only:
// the API names the secret keys a channel has but never returns their values, and a field
// left blank when editing keeps the stored value (credentials go when the URL or SMTP host changes).

import { del, get, post, put } from "../api.js";
import { h, replace } from "../dom.js";
import { formatSeconds, parseSeconds } from "../format.js";
import { isAbort } from "../live.js";
import { loadActiveAlerts } from "../model.js";
import { errorText, field, input, select, toast } from "./widgets.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */
/** @typedef {import("../types/api").ChannelIn} ChannelIn */
/** @typedef {import("../types/api").ChannelOut} ChannelOut */
/** @typedef {import("../types/api").NotificationOut} NotificationOut */
/** @typedef {import("../types/api").NotificationPreviewOut} NotificationPreviewOut */

const TEST_POLL_MS = 700;
const TEST_WAIT_MS = 30000;

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountChannels(main, { admin, config }) {
  document.title = "Channels · fleetmon";
  /** @type {Pick<import("../types/api").AlertingOut, "severities" | "channel_kinds">} */
  const vocab = config ? config.alerting : { severities: [], channel_kinds: [] };
  const errorBox = h("p", { class: "banner banner-error", role: "alert", id: "channel-error", hidden: true });
  const listBody = h("div", { class: "card table-wrap" }, h("p", { class: "empty" }, "Loading…"));
  const formSlot = h("div");
  const previewSlot = h("div");
  let destroyed = false;

  /** @param {unknown} err */
  const showError = (err) => {
    errorBox.textContent = errorText(err);
    errorBox.hidden = false;
  };

  if (!admin) {
    main.append(h("section", { class: "page narrow" }, h("h1", {}, "Channels"), h("p", { class: "banner" }, "Notification channels hold secrets (webhook URLs, passwords): only admins can see or change them.")));
    return { destroy() {} };
  }

  const newBtn = h("button", { type: "button", class: "btn btn-primary", id: "new-channel", onclick: () => openForm(null) }, "New channel");
  main.append(
    h(
      "section",
      { class: "page" },
      h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Notification channels"), h("p", { class: "muted page-sub" }, "Where alerts go. The alert worker delivers; “Test” sends a sample through it; “Preview” shows what it would send.")), newBtn),
      errorBox,
      formSlot,
      previewSlot,
      listBody,
    ),
  );

  /** @type {ChannelOut[]} */
  let channels = [];

  /**
   * Send a test and follow it until the worker delivered it or gave up.
   * @param {ChannelOut} ch
   * @param {HTMLElement} out
   * @param {HTMLButtonElement} btn
   */
  async function runTest(ch, out, btn) {
    btn.disabled = true;
    out.className = "test-state";
    out.textContent = "Queued…";
    try {
      let n = await post("/api/v1/alerts/channels/{channel_id}/test", { path: { channel_id: ch.id } });
      const deadline = Date.now() + TEST_WAIT_MS;
      while (n.status === "pending" && Date.now() < deadline && !destroyed) {
        await sleep(TEST_POLL_MS);
        n = await get("/api/v1/alerts/notifications/{notification_id}", { path: { notification_id: n.id } });
        if (n.status === "pending" && n.attempts > 0) out.textContent = `Retrying (attempt ${n.attempts} failed: ${n.last_error ?? "no answer"})…`;
      }
      if (n.status === "sent") {
        out.textContent = "Sent ✓";
        out.classList.add("test-ok");
      } else if (n.status === "failed") {
        out.textContent = `Failed: ${n.last_error ?? "no detail"}`;
        out.classList.add("test-fail");
      } else {
        out.textContent = n.attempts ? `Still retrying: ${n.last_error ?? ""}` : "Still queued: is the alert worker (fleetmon-alerts run) running?";
        out.classList.add("test-fail");
      }
      out.dataset.status = n.status;
    } catch (err) {
      out.textContent = `Could not test: ${errorText(err)}`;
      out.classList.add("test-fail");
      out.dataset.status = "error";
    } finally {
      btn.disabled = false;
    }
  }

  /** @param {ChannelOut} ch */
  function configText(ch) {
    const shown = Object.entries(ch.config).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(" ") : String(v)}`);
    const secret = ch.secret_keys.map((k) => `${k} (secret, set)`);
    return [...shown, ...secret].join(", ") || "—";
  }

  function render() {
    if (!channels.length) {
      replace(listBody, h("p", { class: "empty" }, "No channel yet: alerts are only recorded. Add Slack, email, a webhook…"));
      return;
    }
    replace(
      listBody,
      h(
        "table",
        { class: "data-table", id: "channels-table" },
        h("thead", {}, h("tr", {}, ["Channel", "Kind", "Settings", "From severity", "Resolved", "Repeat", "On", "", ""].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          {},
          channels.map((ch) => {
            const out = h("span", { class: "test-state", "aria-live": "polite" });
            const testBtn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "btn btn-small", "aria-label": `Test ${ch.name}` }, "Test"));
            testBtn.addEventListener("click", () => void runTest(ch, out, testBtn));
            const previewBtn = h("button", { type: "button", class: "btn btn-small", "aria-label": `Preview ${ch.name}`, onclick: () => void openPreview(ch) }, "Preview");
            return h(
              "tr",
              { "data-channel": ch.name },
              h("td", { class: "strong" }, ch.name),
              h("td", {}, ch.kind),
              h("td", { class: "mono settings-cell" }, configText(ch)),
              h("td", {}, ch.min_severity),
              h("td", {}, ch.send_resolved ? "yes" : "no"),
              h("td", {}, formatSeconds(ch.repeat_interval_s)),
              h("td", {}, ch.enabled ? "yes" : "no"),
              h("td", { class: "nowrap" }, testBtn, " ", previewBtn, " ", out),
              h(
                "td",
                { class: "nowrap" },
                h("button", { type: "button", class: "btn btn-small", "aria-label": `Edit ${ch.name}`, onclick: () => openForm(ch) }, "Edit"),
                " ",
                h("button", { type: "button", class: "btn btn-small btn-danger", "aria-label": `Delete ${ch.name}`, onclick: () => void remove(ch) }, "Delete"),
              ),
            );
          }),
        ),
      ),
    );
  }

  /**
   * The notification preview of one channel: a sample alert or one of the active alerts,
   * firing or resolved, exactly as the worker would render it.
   * @param {ChannelOut} ch
   */
  async function openPreview(ch) {
    errorBox.hidden = true;
    replace(formSlot);
    const fSource = /** @type {HTMLSelectElement} */ (h("select", { id: "p-source" }, h("option", { value: "" }, "Sample alert")));
    const fStatus = select("p-status", ["firing", "resolved"], "firing");
    const title = h("p", { class: "preview-title strong", id: "preview-title" });
    const meta = h("p", { class: "hint", id: "preview-meta" });
    const body = h("pre", { class: "preview-body mono", id: "preview-body", tabindex: "0" }, "Loading…");
    const panel = h(
      "section",
      { class: "card form-card", id: "channel-preview", "aria-label": `Preview of ${ch.name}` },
      h("h2", {}, `Preview: ${ch.name} (${ch.kind})`),
      h("div", { class: "form-grid" }, field("Alert", fSource, "a sample, or an alert that is active now"), field("Notification", fStatus)),
      title,
      meta,
      body,
      h("div", { class: "form-actions" }, h("button", { type: "button", class: "btn btn-ghost", id: "preview-close", onclick: () => replace(previewSlot) }, "Close")),
    );
    replace(previewSlot, panel);

    // The worker renders each preview (a fraction of a second each): answers can arrive out
    // of order when the choice changes quickly, and only the latest choice's answer is shown.
    let latest = 0;
    async function show() {
      const mine = ++latest;
      panel.setAttribute("aria-busy", "true");
      const [ruleId, ...rest] = fSource.value ? fSource.value.split(" ") : [];
      const host = rest.join(" ");
      try {
        /** @type {NotificationPreviewOut} */
        const p = await get("/api/v1/alerts/channels/{channel_id}/preview", {
          path: { channel_id: ch.id },
          query: { rule_id: ruleId ? Number(ruleId) : undefined, host: ruleId ? host : undefined, status: fStatus.value === "resolved" ? "resolved" : "firing" },
        });
        if (destroyed || mine !== latest) return;
        panel.removeAttribute("aria-busy");
        title.textContent = p.title;
        const what = p.format === "json" ? `The request body ${ch.kind} receives (secrets left out).` : "The message as sent.";
        meta.textContent = p.why_not ? `${what} The worker would not send it here: ${p.why_not}.` : what;
        panel.dataset.wouldSend = String(p.would_send);
        body.textContent = p.body;
        panel.dataset.source = p.source;
        panel.dataset.status = p.status;
      } catch (err) {
        if (isAbort(err) || mine !== latest) return;
        panel.removeAttribute("aria-busy");
        title.textContent = "";
        meta.textContent = "";
        body.textContent = `Could not render: ${errorText(err)}`;
      }
    }
    fSource.addEventListener("change", () => void show());
    fStatus.addEventListener("change", () => void show());
    await show();
    try {
      const active = await loadActiveAlerts();
      for (const a of active) fSource.append(h("option", { value: `${a.ruleId} ${a.host}` }, `${a.rule} on ${a.host} (${a.status})`));
    } catch (err) {
      if (!isAbort(err)) showError(err);
    }
  }

  /** @param {ChannelOut} ch */
  async function remove(ch) {
    if (!window.confirm(`Delete the channel “${ch.name}”? Notifications still queued for it are dropped.`)) return;
    try {
      await del("/api/v1/alerts/channels/{channel_id}", { path: { channel_id: ch.id } });
      toast(`Deleted ${ch.name}`);
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  /**
   * The create/edit form; `ch` null creates.
   * @param {ChannelOut | null} ch
   */
  function openForm(ch) {
    errorBox.hidden = true;
    const kinds = vocab.channel_kinds.map((k) => k.kind);
    const fName = input("c-name", { required: true, maxlength: 128, value: ch ? ch.name : "" });
    const fKind = select("c-kind", kinds, ch ? ch.kind : kinds.includes("slack") ? "slack" : kinds[0] || "");
    const fSeverity = select("c-severity", vocab.severities, ch ? ch.min_severity : vocab.severities[0] || "info");
    const fResolved = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "c-resolved", checked: ch ? ch.send_resolved : true }));
    // A new channel leaves it to the server's default (the API's schema says which).
    const fRepeat = input("c-repeat", { value: ch ? formatSeconds(ch.repeat_interval_s) : "", placeholder: "server default" });
    const fEnabled = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "c-enabled", checked: ch ? ch.enabled : true }));
    const fExtra = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "c-extra", rows: 3, placeholder: "port=587\nsecurity=starttls", spellcheck: "false" }));
    const configSlot = h("div", { class: "form-grid" });
    /** @type {Map<string, HTMLInputElement>} */
    let required = new Map();

    function syncKind() {
      const spec = vocab.channel_kinds.find((k) => k.kind === fKind.value);
      const sameKind = ch !== null && ch.kind === fKind.value;
      required = new Map();
      const fields = (spec ? spec.required : []).map((key) => {
        const secret = !(spec ? spec.public : []).includes(key);
        const stored = sameKind && (ch.secret_keys.includes(key) || key in ch.config);
        const el = input(`c-config-${key}`, {
          type: secret ? "password" : "text",
          autocomplete: secret ? "new-password" : "off",
          spellcheck: "false",
          value: !secret && sameKind && key in ch.config ? String(ch.config[key]) : "",
          placeholder: stored && secret ? "stored — leave blank to keep" : "",
        });
        required.set(key, el);
        return field(key, el, secret ? "secret: write-only, never shown again" : null);
      });
      replace(configSlot, fields.length ? fields : h("p", { class: "hint" }, "No required settings."));
    }
    fKind.addEventListener("change", syncKind);
    syncKind();
    if (ch) fExtra.value = Object.entries(ch.config).filter(([k]) => !required.has(k)).map(([k, v]) => `${k}=${String(v)}`).join("\n");

    const saveBtn = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary", id: "channel-save" }, ch ? "Save" : "Create channel"));
    const form = h(
      "form",
      { class: "card form-card", id: "channel-form", novalidate: true },
      h("h2", {}, ch ? `Edit ${ch.name}` : "New channel"),
      h("div", { class: "form-grid" }, field("Name", fName), field("Kind", fKind), field("From severity", fSeverity, "alerts less severe than this are not sent here"), field("Repeat every", fRepeat, "while an alert keeps firing: 30m, 4h")),
      configSlot,
      field("More settings", fExtra, "one key=value per line (e.g. email port, username, password); keys other than host, port, from, to, security, level, ca_file are secret"),
      h("div", { class: "field field-inline" }, fResolved, h("label", { for: "c-resolved" }, "Also notify when resolved")),
      h("div", { class: "field field-inline" }, fEnabled, h("label", { for: "c-enabled" }, "Enabled")),
      h("div", { class: "form-actions" }, saveBtn, h("button", { type: "button", class: "btn btn-ghost", onclick: () => replace(formSlot) }, "Cancel")),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      errorBox.hidden = true;
      /** @type {Record<string, unknown>} */
      const cfg = {};
      try {
        for (const line of fExtra.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
          const eq = line.indexOf("=");
          if (eq <= 0) throw new Error(`More settings: “${line}” must be key=value`);
          const key = line.slice(0, eq).trim();
          const raw = line.slice(eq + 1).trim();
          cfg[key] = key === "port" && /^\d+$/.test(raw) ? Number(raw) : key === "to" ? raw.split(/[\s,]+/).filter(Boolean) : raw;
        }
        for (const [key, el] of required) if (el.value.trim()) cfg[key] = key === "to" ? el.value.split(/[\s,]+/).filter(Boolean) : el.value.trim();
        const repeat = fRepeat.value.trim() ? parseSeconds(fRepeat.value) : undefined;
        if (repeat === null) throw new Error(`Repeat every: “${fRepeat.value}” is not a duration (30m, 4h)`);
        /** @type {ChannelIn} */
        const body = {
          name: fName.value.trim(),
          kind: /** @type {ChannelIn["kind"]} */ (fKind.value),
          config: cfg,
          min_severity: /** @type {ChannelIn["min_severity"]} */ (fSeverity.value),
          send_resolved: fResolved.checked,
          repeat_interval_s: repeat,
          enabled: fEnabled.checked,
        };
        saveBtn.disabled = true;
        const saved = ch ? await put("/api/v1/alerts/channels/{channel_id}", { path: { channel_id: ch.id }, body }) : await post("/api/v1/alerts/channels", { body });
        // The secrets just typed leave the page with the form.
        replace(formSlot);
        toast(`Saved ${saved.name}`);
        await refresh();
      } catch (err) {
        showError(err);
      } finally {
        saveBtn.disabled = false;
      }
    });
    replace(formSlot, form);
    fName.focus();
  }

  async function refresh() {
    channels = await get("/api/v1/alerts/channels");
    if (!destroyed) render();
  }
  refresh().catch((err) => {
    if (!isAbort(err)) showError(err);
  });

  return {
    destroy() {
      destroyed = true;
    },
  };
}
