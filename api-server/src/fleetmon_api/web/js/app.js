// Boot, hash routing and the shared chrome (top bar, sign-out, live-refresh indicator).

import { session } from "./api.js";
import { h, replace } from "./dom.js";
import { loadConfig, loadMe } from "./model.js";
import { mountLogin } from "./views/login.js";
import { mountOverview } from "./views/overview.js";
import { mountHost } from "./views/host.js";
import { mountAlerts } from "./views/alerts.js";
import { mountRules, mountRuleForm } from "./views/rules.js";
import { mountChannels } from "./views/channels.js";
import { mountSilences } from "./views/silences.js";

/** @typedef {import("./types/ui").View} View */
/** @typedef {import("./types/ui").ViewContext} ViewContext */
/** @typedef {import("./types/api").MeOut} MeOut */
/** @typedef {import("./types/api").UiConfigOut} UiConfigOut */

/**
 * An element the shell (index.html) always has.
 * @param {string} id
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page shell has no #${id}`);
  return el;
}

const main = byId("main");
const topbar = byId("topbar");
/** @type {View | null} */
let teardown = null;
let lastRoute = "";
/** @type {{token: string, me: MeOut, config: UiConfigOut} | null} */
let signedIn = null;
let routing = 0;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  return { parts, query: new URLSearchParams(query), raw };
}

/**
 * @param {string} hash
 * @param {{replaceState?: boolean}} [opts]
 */
export function navigate(hash, { replaceState = false } = {}) {
  if (replaceState) {
    window.history.replaceState(null, "", hash);
    route();
  } else {
    window.location.hash = hash;
  }
}

/** @param {string} active */
function setNav(active) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (!(a instanceof HTMLElement)) continue;
    if (a.dataset.nav === active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/**
 * Who is signed in and the server's UI settings, asked once per token.
 * @param {string} token
 */
async function whoAmI(token) {
  if (signedIn && signedIn.token === token) return signedIn;
  const [me, config] = await Promise.all([loadMe(), loadConfig()]);
  signedIn = { token, me, config };
  return signedIn;
}

/**
 * @param {string[]} parts
 * @param {ViewContext} ctx
 * @returns {[string, () => View]}
 */
function viewFor(parts, ctx) {
  const [first, second] = parts;
  if (parts.length === 0) return ["overview", () => mountOverview(main, ctx)];
  if (first === "host" && second) return ["overview", () => mountHost(main, { ...ctx, host: second })];
  if (first === "alerts") return ["alerts", () => mountAlerts(main, ctx)];
  if (first === "rules" && second) return ["rules", () => mountRuleForm(main, { ...ctx, ruleId: second === "new" ? null : Number(second) })];
  if (first === "rules") return ["rules", () => mountRules(main, ctx)];
  if (first === "silences") return ["silences", () => mountSilences(main, ctx)];
  if (first === "channels") return ["channels", () => mountChannels(main, ctx)];
  return [
    "",
    () => {
      document.title = "Not found · fleetmon";
      replace(main, h("section", { class: "page narrow" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Back to the fleet overview"))));
      return { destroy() {} };
    },
  ];
}

async function route() {
  const { parts, query, raw } = parseHash();
  const token = session.token;
  if (!token && parts[0] !== "login") {
    const next = raw === "/" || raw.startsWith("/login") ? "" : `?next=${encodeURIComponent(raw)}`;
    window.history.replaceState(null, "", `#/login${next}`);
    return route();
  }
  if (token && parts[0] === "login") {
    window.history.replaceState(null, "", "#/");
    return route();
  }
  // The same view with new query parameters (e.g. the time range) updates in place.
  const routeKey = parts.join("/");
  if (teardown && teardown.update && routeKey === lastRoute) {
    teardown.update(query);
    return undefined;
  }
  const mine = ++routing;
  if (teardown) teardown.destroy();
  teardown = null;
  lastRoute = routeKey;
  topbar.hidden = !token;
  if (!token) {
    replace(main);
    setNav("");
    teardown = mountLogin(main, { navigate, query, me: null, admin: false, config: null });
    return undefined;
  }
  let who;
  try {
    who = await whoAmI(token);
  } catch (err) {
    if (mine !== routing) return undefined;
    // A 401 already sent the browser to the login page; anything else is shown here.
    if (session.token) replace(main, h("section", { class: "page narrow" }, h("p", { class: "banner banner-error", role: "alert" }, `Could not load your session: ${err instanceof Error ? err.message : String(err)}`)));
    return undefined;
  }
  if (mine !== routing) return undefined; // the user navigated on meanwhile
  replace(main);
  const admin = who.me.role === "admin";
  byId("whoami").textContent = `${who.me.username} (${who.me.role})`;
  for (const el of document.querySelectorAll("[data-admin-only]")) if (el instanceof HTMLElement) el.hidden = !admin;
  const [nav, mount] = viewFor(parts, { navigate, query, me: who.me, admin, config: who.config });
  setNav(nav);
  teardown = mount();
  main.focus({ preventScroll: true });
  return undefined;
}

byId("logout").addEventListener("click", () => {
  session.clear();
  signedIn = null;
  navigate("#/login");
});

window.addEventListener("fleetmon:unauthorized", () => {
  signedIn = null;
  const { parts, raw } = parseHash();
  if (parts[0] !== "login") navigate(`#/login?expired=1&next=${encodeURIComponent(raw)}`);
});
window.addEventListener("hashchange", () => void route());

function start() {
  void route();
}

// uPlot is a classic deferred script: it has run before this module (modules are deferred
// too and run in order), but be safe if the browser reorders.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
