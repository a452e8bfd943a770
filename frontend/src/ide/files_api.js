// The workspace files endpoints, one function per operation. All paths are
// workspace-relative; errors are ApiErrors from ../lib/api.js.
import { api, apiUrl } from "../lib/api.js";

export function filesApi(workspaceId) {
  const base = `/api/v1/workspaces/${encodeURIComponent(workspaceId)}/files/`;
  return {
    /** One directory level: { path, entries: [{ name, path, type, size, modified }] } */
    list: (path) => api.get(base, { query: { path } }),
    /** { path, content, etag, size, modified }; 415 binary_file, 413 too large. */
    read: (path) => api.get(`${base}content/`, { query: { path } }),
    /** etag is the version the content is based on (null: create, must not exist); 409 conflict if stale. */
    write: (path, content, etag) => api.put(`${base}content/`, { content, etag }, { query: { path } }),
    create: (path, type) => api.post(base, { path, type }),
    move: (source, destination) => api.post(`${base}move/`, { source, destination }),
    remove: (path, { recursive = false } = {}) => api.delete(base, { query: { path, recursive: recursive ? "true" : undefined } }),
    upload(directory, file) {
      const form = new FormData();
      form.append("file", file);
      form.append("directory", directory);
      return api.upload(`${base}upload/`, form);
    },
    downloadUrl: (path) => apiUrl(`${base}download/`, { path }),
    /** Every file for quick open: { files: [path], truncated }. */
    all: () => api.get(`${base}all/`),
    /** Search across files (docs/api.md): { files: [{ path, matches }], match_count, truncated, timed_out, ... }. */
    search: ({ q, regex, matchCase, path, maxResults }, { signal } = {}) =>
      api.get(`${base}search/`, { query: { q, regex: regex ? "true" : undefined, case: matchCase ? "true" : undefined, path: path || undefined, max_results: maxResults }, signal }),
  };
}
