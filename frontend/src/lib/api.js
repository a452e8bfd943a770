// Talks to the Devbench REST API (/api/v1/). Every failure, whether the
// server answered with its error envelope, answered with something else, or
// could not be reached, becomes an ApiError with a message fit to show the
// user, so callers never have to guess at the shape of a failure.

const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A failed API call: `code` and `details` come from the error envelope. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details || {};
  }

  /** Messages for one field of a validation error, e.g. fieldErrors("name"). */
  fieldErrors(field) {
    const value = this.details[field];
    if (value == null) return [];
    return Array.isArray(value) ? value.map(String) : [String(value)];
  }
}

function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

// Django rotates the CSRF token at login, so read it for every request
// rather than caching it. The hidden form field is a fallback for sites that
// rename the cookie; base.html always renders one (in the logout form).
function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return readCookie("csrftoken") || (field ? field.value : "");
}

/** Builds "/api/v1/...?a=b", skipping query values that are undefined. */
export function apiUrl(path, query = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url.pathname + url.search;
}

function fallbackMessage(response) {
  switch (response.status) {
    case 401:
      return "You are not signed in. Reload the page to sign in again.";
    case 403:
      return "You do not have permission to do that.";
    case 404:
      return "Not found. It may have been deleted.";
    case 413:
      return "That is too large.";
    case 429:
      return "Too many requests. Wait a moment and try again.";
    default:
      if (response.status >= 500) return `The server failed (HTTP ${response.status}). Try again later.`;
      return `Request failed (HTTP ${response.status} ${response.statusText}).`;
  }
}

async function errorFromResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy error page, an HTML 500, ... handled below.
  }
  const envelope = body && typeof body === "object" ? body.error : null;
  if (envelope && typeof envelope === "object" && envelope.message) {
    return new ApiError(response.status, envelope.code || "error", envelope.message, envelope.details);
  }
  return new ApiError(response.status, `http_${response.status}`, fallbackMessage(response), {});
}

/**
 * Sends one request and returns the decoded JSON body (null for 204).
 * `json` is sent as a JSON body, `form` (FormData) as multipart.
 */
export async function request(method, path, { query, json, form, signal } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary itself
  }
  if (UNSAFE_METHODS.has(method)) headers["X-CSRFToken"] = csrfToken();

  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body,
      signal,
      credentials: "same-origin",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "Could not reach the server. Check your connection and try again.");
  }

  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, "invalid_response", "The server sent a response that is not JSON.");
  }
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, json, options = {}) => request("POST", path, { ...options, json }),
  put: (path, json, options = {}) => request("PUT", path, { ...options, json }),
  patch: (path, json, options = {}) => request("PATCH", path, { ...options, json }),
  delete: (path, options) => request("DELETE", path, options),
  upload: (path, form, options = {}) => request("POST", path, { ...options, form }),
};

// Following `next` links keeps small lists (workspaces, members, tokens)
// complete without building paging UI; the cap stops a runaway loop if a
// server ever returns a `next` that points back to itself.
const MAX_PAGES = 50;

/** Fetches every page of a paginated list endpoint and returns all results. */
export async function listAll(path, query) {
  const results = [];
  let page = await api.get(path, { query });
  for (let pages = 1; ; pages += 1) {
    results.push(...(page.results || []));
    if (!page.next || pages >= MAX_PAGES) break;
    const next = new URL(page.next, window.location.origin);
    page = await api.get(next.pathname + next.search);
  }
  return results;
}

/** The text to show for any thrown value. */
export function errorMessage(error) {
  if (error instanceof ApiError) return error.message;
  if (error && error.message) return `Unexpected error: ${error.message}`;
  return "Unexpected error.";
}
