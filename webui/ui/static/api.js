// The REST API client: every request the page makes goes through request().
// It adds the CSRF token to changes, turns error bodies into ApiError and
// tells the app when the session is gone.

// ApiError is a failed request: the HTTP status, the API's error code
// ("unauthorized", "conflict"...) and a message meant for the user.
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

const UNSAFE = new Set(["POST", "PUT", "DELETE", "PATCH"]);

let csrfToken = "";
let onAuthLost = () => {};
let onSetupRequired = () => {};

// setCsrfToken keeps the token that login, setup and GET /api/v1/session
// return; changes carry it in the X-CSRF-Token header.
export function setCsrfToken(token) {
  csrfToken = token || "";
}

// setHandlers registers what to do when a request finds the session gone
// (401) or the admin password not set yet (403 setup_required).
export function setHandlers(authLost, setupRequired) {
  onAuthLost = authLost;
  onSetupRequired = setupRequired;
}

// errorFromResponse reads {"error":{"code","message"}} (or the older
// {"error":"message"}) from a failed response.
async function errorFromResponse(res) {
  let code = "http_" + res.status;
  let message = "HTTP " + res.status + (res.statusText ? " " + res.statusText : "");
  try {
    const body = await res.json();
    const e = body && body.error;
    if (typeof e === "string") {
      message = e;
    } else if (e && typeof e === "object") {
      if (e.code) code = String(e.code);
      if (e.message) message = String(e.message);
    }
  } catch (_) {
    // not JSON: keep the status line
  }
  const retry = parseInt(res.headers.get("Retry-After") || "", 10);
  return new ApiError(res.status, code, message, isNaN(retry) ? 0 : retry);
}

async function send(method, path, body, extraHeaders) {
  const headers = { Accept: "application/json", ...extraHeaders };
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body instanceof Blob) {
    headers["Content-Type"] = "application/octet-stream";
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (UNSAFE.has(method) && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  // location.origin never carries user:pass@, which fetch() refuses when the
  // page itself was opened with credentials in its URL.
  try {
    return await fetch(new URL(path, location.origin), init);
  } catch (err) {
    throw new ApiError(0, "network", "cannot reach the controller (" + err.message + ")", 0);
  }
}

// refreshCsrf fetches the session's CSRF token again, after a change was
// refused with csrf_failed (the token went stale, e.g. after a restart).
async function refreshCsrf() {
  const res = await send("GET", "/api/v1/session");
  if (!res.ok) return false;
  const s = await res.json();
  setCsrfToken(s.csrf_token);
  return Boolean(s.csrf_token);
}

// request sends one API call and returns the decoded JSON body (null for
// 204). Options: auth: false for the public routes, where a 401 means a
// wrong password rather than a lost session.
export async function request(method, path, body, options = {}) {
  const auth = options.auth !== false;
  let res = await send(method, path, body, options.headers);
  if (res.status === 403 && UNSAFE.has(method)) {
    const err = await errorFromResponse(res.clone());
    if (err.code === "csrf_failed" && (await refreshCsrf())) {
      res = await send(method, path, body, options.headers);
    }
  }
  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (auth && res.status === 401) onAuthLost(err);
    if (err.code === "setup_required") onSetupRequired(err);
    throw err;
  }
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_) {
    throw new ApiError(res.status, "bad_response", "the controller sent a response that is not JSON", 0);
  }
}

// get, post, put and del are request() for one method.
export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body, options);
export const put = (path, body, options) => request("PUT", path, body, options);
export const del = (path, options) => request("DELETE", path, undefined, options);

// errorText describes any error for the user.
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 429 && err.retryAfter > 0) {
      return err.message + " (retry in " + err.retryAfter + " s)";
    }
    return err.message;
  }
  return err && err.message ? err.message : String(err);
}
