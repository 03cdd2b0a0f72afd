// The only module that talks to the server: the JWT lives in sessionStorage (gone with the
// tab), every request carries it, and any 401 sends the user back to the login page.

const TOKEN_KEY = "fleetmon.token";
const USER_KEY = "fleetmon.user";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get user() {
    return sessionStorage.getItem(USER_KEY) || "";
  },
  save(token, user) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USER_KEY, user);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

function detailText(body, status) {
  const d = body && body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d) && d.length) return d.map((e) => e.msg || JSON.stringify(e)).join("; ");
  return `Request failed (HTTP ${status})`;
}

async function request(path, { params, method = "GET", body, headers = {}, auth = true, signal } = {}) {
  const url = new URL(path.startsWith("/") ? path : `${BASE}/${path}`, window.location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((item) => url.searchParams.append(k, item));
    else url.searchParams.set(k, String(v));
  }
  const h = { Accept: "application/json", ...headers };
  if (auth && session.token) h.Authorization = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(url, { method, body, headers: h, signal, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
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

export const get = (path, params, opts = {}) => request(path, { ...opts, params });

export async function login(username, password) {
  const form = new URLSearchParams({ username, password, grant_type: "password" });
  const data = await request(`${BASE}/auth/token`, {
    method: "POST",
    body: form,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    auth: false,
  });
  if (!data || !data.access_token) throw new ApiError(500, "The server sent no token");
  session.save(data.access_token, username);
  return data;
}

// Some endpoints are optional (built by other components): a 404 means "not available here".
export async function optional(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 405)) return undefined;
    throw err;
  }
}
