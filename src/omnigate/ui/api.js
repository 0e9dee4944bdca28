// The gateway's public API, called with the key the user logged in with. The key lives in
// sessionStorage only: it goes when the tab closes, and never into localStorage or a cookie.

const STORE = "omnigate.key";

export const session = {
  key: () => sessionStorage.getItem(STORE),
  set: (key) => sessionStorage.setItem(STORE, key),
  clear: () => sessionStorage.removeItem(STORE),
  me: null, // GET /v1/key's data for the key: {prefix, name, admin, account, ...}
};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// call("/v1/keys", {method, body, query}); `raw` answers the Response itself (streams).
// `form`: a FormData body (files), sent as multipart.
export async function call(path, { method = "GET", body, form, query, headers = {}, raw = false, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const sent = { ...headers, Authorization: `Bearer ${session.key()}` };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers: sent,
    body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  return raw ? response : response.json();
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not the gateway's JSON error body
  }
  const message = body?.message || body?.error?.message || `${response.status} ${response.statusText}`;
  return new ApiError(response.status, message, body);
}

// Admins see every account; a user key only its own (null: the key's own account).
export async function accounts() {
  if (!session.me?.admin) return [];
  return (await call("/v1/admin/accounts")).data;
}
