// Large files in the editor (docs/protocols.md, "Message sizes"): above one
// threshold a file opens without language servers, above a second read-only.
//
// A language client sends a whole file in one didOpen message as soon as its
// model exists. Over the language-server message limit that message used to
// close the socket, the client reconnected, sent it again, and looped; below
// the limit a server still spends seconds analysing a generated or data file
// nobody edits as code. So the editor marks the model's URI *before* creating
// the model, and the LSP transport (lsp_client.js) leaves marked models out.

const withoutServers = new Set(); // model URIs (strings) the language servers never see

/** The thresholds the page was given (templates/workspaces/ide.html), in bytes. */
export function sizeLimits(root) {
  return {
    languageServersMaxBytes: Number(root.dataset.editorLspMaxBytes),
    editMaxBytes: Number(root.dataset.editorEditMaxBytes),
  };
}

/** What a file of `size` bytes may do: { languageServers, editable, note }; note is "" for ordinary files. */
export function largeFilePolicy(size, limits) {
  // Written as "not over" so that a missing limit (NaN) limits nothing.
  const languageServers = !(size > limits.languageServersMaxBytes);
  const editable = !(size > limits.editMaxBytes);
  let note = "";
  if (!editable) note = `Large file (${formatBytes(size)}): read-only, no language servers`;
  else if (!languageServers) note = `Large file (${formatBytes(size)}): no language servers`;
  return { languageServers, editable, note };
}

/** Mark or unmark `uri` (a monaco.Uri) before its model is created. */
export function setLanguageServersFor(uri, enabled) {
  if (enabled) withoutServers.delete(uri.toString());
  else withoutServers.add(uri.toString());
}

/** False for models of files too large for the language servers. */
export function languageServersAllowed(model) {
  return !withoutServers.has(model.uri.toString());
}

function formatBytes(size) {
  return size >= 1024 * 1024 ? `${(size / (1024 * 1024)).toFixed(1)} MiB` : `${Math.ceil(size / 1024)} KiB`;
}
