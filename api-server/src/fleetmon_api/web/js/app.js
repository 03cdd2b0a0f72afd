// Boot, hash routing and the shared chrome (top bar, sign-out, live-refresh indicator).

import { session } from "./api.js";
import { h, replace } from "./dom.js";
import { mountLogin } from "./views/login.js";
import { mountOverview } from "./views/overview.js";
import { mountHost } from "./views/host.js";
import { mountAlerts } from "./views/alerts.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let teardown = null;
let lastRoute = "";

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  return { parts, query: new URLSearchParams(query), raw };
}

export function navigate(hash, { replaceState = false } = {}) {
  if (replaceState) {
    window.history.replaceState(null, "", hash);
    route();
  } else {
    window.location.hash = hash;
  }
}

function setNav(active) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === active) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  const { parts, query, raw } = parseHash();
  const authed = Boolean(session.token);
  if (!authed && parts[0] !== "login") {
    const next = raw === "/" || raw.startsWith("/login") ? "" : `?next=${encodeURIComponent(raw)}`;
    window.history.replaceState(null, "", `#/login${next}`);
    return route();
  }
  if (authed && parts[0] === "login") {
    window.history.replaceState(null, "", "#/");
    return route();
  }
  // The same view with new query parameters (e.g. the time range) updates in place.
  const routeKey = parts.join("/");
  if (teardown && teardown.update && routeKey === lastRoute) {
    teardown.update(query);
    return undefined;
  }
  if (teardown) teardown.destroy();
  teardown = null;
  lastRoute = routeKey;
  replace(main);
  topbar.hidden = !authed;
  document.getElementById("whoami").textContent = session.user;
  const ctx = { navigate, query };
  if (parts[0] === "login") {
    setNav("");
    teardown = mountLogin(main, ctx);
  } else if (parts.length === 0) {
    setNav("overview");
    teardown = mountOverview(main, ctx);
  } else if (parts[0] === "host" && parts[1]) {
    setNav("overview");
    teardown = mountHost(main, { ...ctx, host: parts[1] });
  } else if (parts[0] === "alerts") {
    setNav("alerts");
    teardown = mountAlerts(main, ctx);
  } else {
    setNav("");
    document.title = "Not found · fleetmon";
    replace(main, h("section", { class: "page narrow" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Back to the fleet overview"))));
  }
  main.focus({ preventScroll: true });
  return undefined;
}

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  navigate("#/login");
});

window.addEventListener("fleetmon:unauthorized", () => {
  const { parts, raw } = parseHash();
  if (parts[0] !== "login") navigate(`#/login?expired=1&next=${encodeURIComponent(raw)}`);
});
window.addEventListener("hashchange", route);

function start() {
  route();
}

// uPlot is a classic deferred script: it has run before this module (modules are deferred
// too and run in order), but be safe if the browser reorders.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
