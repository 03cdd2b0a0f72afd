// Sign-in form: username + password exchanged for a JWT kept in sessionStorage.

import { ApiError, login } from "../api.js";
import { h } from "../dom.js";

/** @typedef {import("../types/ui").ViewContext} ViewContext */
/** @typedef {import("../types/ui").View} View */

/**
 * @param {HTMLElement} main
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function mountLogin(main, { navigate, query }) {
  document.title = "Sign in · fleetmon";
  const error = h("p", { class: "form-error", id: "login-error", role: "alert", hidden: true });
  const user = /** @type {HTMLInputElement} */ (h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" }));
  const pass = /** @type {HTMLInputElement} */ (h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }));
  const submit = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Sign in"));
  const form = h(
    "form",
    { class: "login-form", novalidate: true, "aria-describedby": "login-error" },
    h("label", { for: "username" }, "Username"),
    user,
    h("label", { for: "password" }, "Password"),
    pass,
    error,
    submit,
  );
  if (query.get("expired")) {
    error.textContent = "Your session has ended. Please sign in again.";
    error.hidden = false;
    error.classList.add("form-info");
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    error.classList.remove("form-info");
    if (!user.value.trim() || !pass.value) {
      error.textContent = "Enter your username and password.";
      error.hidden = false;
      (user.value.trim() ? pass : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      await login(user.value.trim(), pass.value);
      pass.value = "";
      const next = query.get("next");
      navigate(next && next.startsWith("/") && !next.startsWith("/login") ? `#${next}` : "#/");
    } catch (err) {
      pass.value = "";
      const status = err instanceof ApiError ? err.status : 0;
      error.textContent =
        status === 401 || status === 400
          ? "Incorrect username or password."
          : status === 429
            ? "Too many attempts. Wait a minute and try again."
            : (err instanceof Error && err.message) || "Sign-in failed.";
      error.hidden = false;
      pass.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Sign in";
    }
  });

  main.append(
    h(
      "section",
      { class: "login-wrap" },
      h(
        "div",
        { class: "card login-card" },
        h("div", { class: "login-brand" }, h("span", { class: "logo-mark", "aria-hidden": "true" }), h("span", {}, "fleetmon")),
        h("h1", {}, "Sign in"),
        h("p", { class: "muted" }, "Fleet metrics, hosts and alerts."),
        form,
      ),
    ),
  );
  user.focus();
  return { destroy() {} };
}
