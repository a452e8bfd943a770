// The IDE's language servers: one connection per server (pyright, ruff) for
// Python files, and their badges in the panel bar, each with a restart action.
//
// Connections, reconnects and the LSP client live in lsp_client.js; this file
// only decides which servers run and shows their state. Viewers get none: a
// language server analyses code as one edits it (docs/protocols.md).
import { api, errorMessage } from "../lib/api.js";
import { notify } from "../lib/dialogs.js";
import { webSocketUrl } from "../lib/websocket.js";
import { connectLanguageServer } from "./lsp_client.js";
import { monaco } from "./monaco.js";

const SERVERS = ["pyright", "ruff"];
const STATE_TEXT = {
  connecting: "connecting",
  running: "ready",
  reconnecting: "reconnecting",
  failed: "failed",
  replaced: "open in another tab",
  stopped: "stopped",
};

export class LanguageServers {
  constructor({ element, workspaceId, canEdit, output, tabs }) {
    this.element = element;
    this.tabs = tabs;
    this.workspaceId = workspaceId;
    this.output = output;
    this.connections = new Map();
    this.badges = new Map();
    element.textContent = "";
    if (!canEdit) {
      element.textContent = "Language servers: editors only";
      element.dataset.state = "none";
      return;
    }
    const label = document.createElement("span");
    label.textContent = "Language servers:";
    element.append(label);
    for (const name of SERVERS) this.start(name);
  }

  start(name) {
    const badge = document.createElement("span");
    badge.className = "lsp-badge";
    badge.dataset.testid = `lsp-badge-${name}`;
    badge.dataset.server = name;
    const text = document.createElement("span");
    const restart = document.createElement("button");
    restart.type = "button";
    restart.className = "lsp-restart";
    restart.title = `Restart ${name}`;
    restart.setAttribute("aria-label", `Restart the ${name} language server`);
    restart.dataset.testid = `lsp-restart-${name}`;
    restart.textContent = "⟳";
    restart.addEventListener("click", () => this.restart(name));
    badge.append(text, restart);
    this.element.append(badge);
    this.badges.set(name, { badge, text });

    const path = `/ws/workspaces/${encodeURIComponent(this.workspaceId)}/lsp/${name}/`;
    const connection = connectLanguageServer({
      url: webSocketUrl(path),
      name,
      languageIds: ["python"],
      loadModel: (uri) => this.loadModel(uri),
      onStateChange: (state, detail) => this.show(name, state, detail),
    });
    this.connections.set(name, connection);
  }

  show(name, state, detail) {
    const { badge, text } = this.badges.get(name);
    badge.dataset.state = state;
    text.textContent = `${name}: ${STATE_TEXT[state] || state}`;
    badge.title = detail?.reason || "";
    if (detail?.reason && ["failed", "replaced", "stopped"].includes(state)) {
      this.output.log(`${name}: ${detail.reason}`, state === "failed" ? "error" : "info");
    }
  }

  /** The model of a workspace file a definition points to, read from the files API. */
  async loadModel(uri) {
    if (uri.scheme !== "file" || !uri.path.startsWith(WORKSPACE_PREFIX)) return false;
    return Boolean(await this.tabs.preloadModel(uri.path.slice(WORKSPACE_PREFIX.length)));
  }

  /** Closes every connection for good (the workspace is gone). */
  dispose() {
    for (const connection of this.connections.values()) connection.dispose();
    this.connections.clear();
  }

  /** Restart the server (its socket closes with 4001 and reconnects), or reconnect if none runs. */
  async restart(name) {
    const connection = this.connections.get(name);
    const path = `/api/v1/workspaces/${encodeURIComponent(this.workspaceId)}/lsp/${name}/restart/`;
    try {
      await api.post(path);
      this.output.log(`${name}: restarted`);
    } catch (error) {
      if (error.code !== "no_session") {
        this.output.error(`${name}: restart failed: ${errorMessage(error)}`);
        return;
      }
    }
    connection.reconnect();
  }
}

const WORKSPACE_PREFIX = "/workspace/";

/**
 * "Go to definition" into another file: open workspace files in a tab at the
 * definition. Servers may also point into the standard library or their own
 * type stubs (file:///python/..., file:///language-server/...), which the IDE
 * does not serve; say so instead of doing nothing.
 */
export function openDefinitionsInTabs(tabs) {
  return monaco.editor.registerEditorOpener({
    async openCodeEditor(_source, resource, selectionOrPosition) {
      if (resource.scheme !== "file" || !resource.path.startsWith(WORKSPACE_PREFIX)) {
        notify(`${resource.path} is outside the workspace; it cannot be opened here.`, { kind: "info" });
        return true;
      }
      const tab = await tabs.open(resource.path.slice(WORKSPACE_PREFIX.length));
      if (tab && selectionOrPosition) {
        const range =
          "startLineNumber" in selectionOrPosition
            ? selectionOrPosition
            : monaco.Range.fromPositions(selectionOrPosition, selectionOrPosition);
        tabs.editor.setSelection(range);
        tabs.editor.revealRangeInCenterIfOutsideViewport(range);
        tabs.editor.focus();
      }
      return true;
    },
  });
}

