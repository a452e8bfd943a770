// Tells Monaco where its web worker lives. This module is imported before
// Monaco so the setting is in place before any editor exists. The URLs come
// from the template because STATIC_URL and the static files storage (which
// may add content hashes to file names) are deployment settings the bundle
// cannot know.
const root = document.getElementById("ide");
const staticDist = (root && root.dataset.staticDist) || "/static/dist/";
const base = staticDist.endsWith("/") ? staticDist : `${staticDist}/`;
const workerUrl = (root && root.dataset.editorWorkerUrl) || `${base}editor.worker.js`;

self.MonacoEnvironment = {
  // Every label ("editorWorkerService", ...) uses the generic editor worker:
  // the language services that would need their own workers are not bundled.
  getWorkerUrl: () => workerUrl,
};
