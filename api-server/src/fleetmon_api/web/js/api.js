// The only module that talks to the server: the JWT lives in sessionStorage (gone with the
// tab), every request carries it, and any 401 sends the user back to the login page.
// Calls are typed by the API's OpenAPI document (types/api.d.ts, generated from
// /openapi.json): a path, parameter, body or answer field the server does not have is a
// type error (tests/web runs `tsc --checkJs`).

/** @typedef {import("./types/api").Paths} Paths */
/** @typedef {import("./types/api").Method} Method */
/**
 * @template {Method} M
 * @typedef {import("./types/api").PathWith<M>} PathWith
 */
/**
 * @template {keyof Paths} P
 * @template {Method} M
 * @typedef {import("./types/api").RequestOf<P, M>} RequestOf
 */
/**
 * @template {keyof Paths} P
 * @template {Method} M
 * @typedef {import("./types/api").ResponseOf<P, M>} ResponseOf
 */

const TOKEN_KEY = "fleetmon.token";
const USER_KEY = "fleetmon.user";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the server could not be reached)
   * @param {string} message what the server said, as text
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const session = {
  /** @returns {string | null} */
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  /** @returns {string} */
  get user() {
    return sessionStorage.getItem(USER_KEY) || "";
  },
  /**
   * @param {string} token
   * @param {string} user
   */
  save(token, user) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, user);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

/**
 * The error text of a JSON error answer ({"detail": "..."} or a 422's list of problems).
 * @param {unknown} body
 * @param {number} status
 */
function detailText(body, status) {
  const d = body && typeof body === "object" && "detail" in body ? body.detail : undefined;
  if (typeof d === "string") return d;
  if (Array.isArray(d) && d.length) {
    return d
      .map((e) => {
        if (!e || typeof e !== "object") return String(e);
        const where = Array.isArray(e.loc) ? e.loc.filter((/** @type {unknown} */ p) => p !== "body").join(".") : "";
        return where ? `${where}: ${e.msg}` : String(e.msg);
      })
      .join("; ");
  }
  return `Request failed (HTTP ${status})`;
}

/**
 * `/api/v1/hosts/{host}` with `{host: "web 1"}` -> `/api/v1/hosts/web%201`.
 * @param {string} template
 * @param {Record<string, string | number> | undefined} params
 */
function fillPath(template, params) {
  return template.replace(/\{([^}]+)\}/g, (_, name) => {
    const v = params && params[name];
    if (v === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(v));
  });
}

/**
 * One HTTP exchange; JSON in, JSON out. Throws ApiError for any non-2xx answer.
 * @param {string} method
 * @param {string} path a path template of the API
 * @param {{path?: unknown, query?: unknown, body?: unknown, signal?: AbortSignal}} req
 * @param {{form?: boolean, auth?: boolean}} [how]
 * @returns {Promise<unknown>}
 */
async function exchange(method, path, req, { form = false, auth = true } = {}) {
  const url = new URL(fillPath(path, /** @type {Record<string, string | number> | undefined} */ (req.path)), window.location.origin);
  for (const [k, v] of Object.entries(/** @type {Record<string, unknown>} */ (req.query || {}))) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((item) => url.searchParams.append(k, String(item)));
    else url.searchParams.set(k, String(v));
  }
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  /** @type {BodyInit | undefined} */
  let body;
  if (req.body !== undefined) {
    if (form) {
      body = new URLSearchParams(/** @type {Record<string, string>} */ (req.body));
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else {
      body = JSON.stringify(req.body);
      headers["Content-Type"] = "application/json";
    }
  }
  let res;
  try {
    res = await fetch(url, { method: method.toUpperCase(), body, headers, signal: req.signal, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "The server cannot be reached");
  }
  let data = null;
  const type = res.headers.get("content-type") || "";
  if (type.includes("json")) data = await res.json().catch(() => null);
  if (res.status === 401 && auth) {
    session.clear();
    window.dispatchEvent(new CustomEvent("fleetmon:unauthorized"));
  }
  if (!res.ok) throw new ApiError(res.status, detailText(data, res.status));
  return data;
}

/**
 * GET a path of the API.
 * @template {PathWith<"get">} P
 * @param {P} path
 * @param {RequestOf<P, "get">} [req]
 * @returns {Promise<ResponseOf<P, "get">>}
 */
export async function get(path, req = {}) {
  return /** @type {ResponseOf<P, "get">} */ (await exchange("get", path, req));
}

/**
 * POST to a path of the API.
 * @template {PathWith<"post">} P
 * @param {P} path
 * @param {RequestOf<P, "post">} [req]
 * @returns {Promise<ResponseOf<P, "post">>}
 */
export async function post(path, req = {}) {
  return /** @type {ResponseOf<P, "post">} */ (await exchange("post", path, req));
}

/**
 * PUT to a path of the API.
 * @template {PathWith<"put">} P
 * @param {P} path
 * @param {RequestOf<P, "put">} [req]
 * @returns {Promise<ResponseOf<P, "put">>}
 */
export async function put(path, req = {}) {
  return /** @type {ResponseOf<P, "put">} */ (await exchange("put", path, req));
}

/**
 * DELETE a path of the API.
 * @template {PathWith<"delete">} P
 * @param {P} path
 * @param {RequestOf<P, "delete">} [req]
 * @returns {Promise<ResponseOf<P, "delete">>}
 */
export async function del(path, req = {}) {
  return /** @type {ResponseOf<P, "delete">} */ (await exchange("delete", path, req));
}

/**
 * Exchange username and password for a JWT, kept for this tab.
 * @param {string} username
 * @param {string} password
 */
export async function login(username, password) {
  /** @type {RequestOf<"/api/v1/auth/token", "post">} */
  const req = { body: { username, password } };
  const data = /** @type {ResponseOf<"/api/v1/auth/token", "post">} */ (await exchange("post", "/api/v1/auth/token", req, { form: true, auth: false }));
  session.save(data.access_token, username);
  return data;
}
