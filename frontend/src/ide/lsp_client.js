// Browser side of the LSP bridge: connects Monaco models to one language
// server behind a WebSocket on which each text frame is exactly one JSON-RPC
// message (the vscode-ws-jsonrpc convention).
//
// The LSP client itself is the one that ships inside monaco-editor 0.57
// (`monaco.lsp.MonacoLspClient`, from esm/external/monaco-lsp-client); this
// module only supplies the transport and works around the client's gaps:
//
//   * it opens every model of every language and lower-cases URIs in the
//     didOpen/didChange/didClose notifications: the transport only lets
//     documents of `languageIds` through, with their real (cased) URIs, and
//     answers requests about other documents with `null` itself; files too
//     large for language servers (large_files.js) count as other documents;
//   * it sends `rootUri: null` and no workspace folders: `initialize` gets
//     `workspaceRootUri`;
//   * every client writes its markers under the one owner "lsp", so two
//     servers on one file would erase each other's diagnostics: pull
//     diagnostics are switched off and pushed ones are turned into markers
//     here, under the owner `lsp:<name>`;
//   * it cannot answer `workspace/configuration` or
//     `window/workDoneProgress/create`: the transport does;
//   * it has no dispose() and no reconnect: each connection gets a fresh
//     client, and the old one's providers and document listeners are
//     disposed through its (underscore) fields.
//
// Model URIs must be file:///workspace/<path> (what the bridge maps onto the
// workspace directory on disk); see toModelUri().
// esbuild alias (see build.mjs): monaco-editor's package exports reach this
// module only through the full "monaco-editor" entry, which bundles every
// language and language service.
import { MonacoLspClient } from "monaco-editor-lsp-client";
import { Backoff } from "../lib/backoff.js";
import { CLOSE_RESTARTED, finalCloseReason } from "../lib/websocket.js";
import { languageServersAllowed } from "./large_files.js";
import { monaco } from "./monaco.js";

// Requests whose failure only means "nothing to offer here": basedpyright answers a code-action
// request for a file it is still parsing with an internal error, which Monaco's client would
// turn into an unhandled error in the page. Such a failure is logged and answered with no result.
const QUIET_FAILURE_METHODS = new Set(["textDocument/codeAction"]);

// Requests whose answers are locations, possibly in files without a model yet.
const LOCATION_METHODS = new Set([
  "textDocument/definition",
  "textDocument/declaration",
  "textDocument/typeDefinition",
  "textDocument/implementation",
  "textDocument/references",
]);

// Close codes of docs/protocols.md after which reconnecting cannot help.
const CLOSE_REPLACED = 4009; // the same server was opened in another tab
const CLOSE_FAILED = 4011; // the server keeps crashing: a restart is needed

/** The Monaco model URI for a workspace-relative path ("pkg/mod.py"). */
export function toModelUri(path, workspaceRootUri = "file:///workspace") {
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return monaco.Uri.parse(`${workspaceRootUri.replace(/\/$/, "")}/${encoded}`);
}

/**
 * Connects the Monaco models of `languageIds` to the language server at `url`
 * and keeps them connected: reconnects with exponential backoff and full
 * jitter, at once when the bridge closes with 4001 (server restarted).
 *
 * @param {object} options
 * @param {string} options.url WebSocket URL of the bridge for this server
 * @param {string} options.name short name ("pyright", "ruff"): marker owner is `lsp:<name>`
 * @param {string[]} options.languageIds Monaco language ids to synchronise (["python"])
 * @param {string} [options.workspaceRootUri] "file:///workspace"
 * @param {object} [options.settings] answers to workspace/configuration, by section
 * @param {(uri: monaco.Uri) => Promise<boolean>} [options.loadModel] creates the model of a file a
 *   definition or reference points to (Monaco only navigates to files that have a model)
 * @param {(state: string, detail?: object) => void} [options.onStateChange]
 *   "connecting" | "running" | "reconnecting" | "failed" | "replaced" | "stopped"
 * @param {object} [options.backoff] { baseMs, factor, maxMs, stableMs }
 * @returns {{ dispose(): void, reconnect(): void, readonly state: string }}
 */
export function connectLanguageServer({
  url,
  name,
  languageIds,
  workspaceRootUri = "file:///workspace",
  settings = {},
  loadModel = async () => false,
  onStateChange = () => {},
  backoff: backoffOptions = {},
}) {
  const owner = `lsp:${name}`;
  const backoff = new Backoff(backoffOptions);
  let state = "stopped";
  let disposed = false;
  let session = null; // { socket, transport, client }
  let retryTimer = null;

  const setState = (next, detail) => {
    if (state === next && !detail) return;
    state = next;
    onStateChange(next, detail);
  };

  function connect() {
    retryTimer = null;
    if (disposed) return;
    setState(backoff.attempt === 0 ? "connecting" : "reconnecting");
    const socket = new WebSocket(url);
    const transport = new FilteringTransport({ socket, owner, languageIds, workspaceRootUri, settings, loadModel });
    let client = null;
    session = { socket, transport, client };

    socket.onopen = () => {
      client = createClient(transport);
      session.client = client;
      backoff.connected();
      setState("running");
    };
    socket.onclose = (event) => {
      backoff.disconnected();
      transport.closed();
      disposeClient(client);
      clearMarkers(owner);
      if (session && session.socket === socket) session = null;
      if (disposed) return;
      const final = finalState(event);
      if (final) {
        setState(final.state, { code: event.code, reason: final.reason });
        return;
      }
      const restarted = event.code === CLOSE_RESTARTED;
      const delay = backoff.nextDelay({ immediate: restarted });
      setState("reconnecting", { code: event.code, reason: event.reason, delayMs: delay });
      retryTimer = setTimeout(connect, delay);
    };
    // onerror is always followed by onclose, which does the work.
  }

  connect();

  return {
    get state() {
      return state;
    },
    /** Connect again now (after "failed", "replaced" or "stopped", or to skip a backoff wait). */
    reconnect() {
      if (disposed || (session && session.socket.readyState <= WebSocket.OPEN)) return;
      if (retryTimer !== null) clearTimeout(retryTimer);
      backoff.reset();
      connect();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      backoff.reset();
      if (session) {
        session.transport.closed();
        disposeClient(session.client);
        session.socket.onclose = null;
        session.socket.close(1000, "client disposed");
        session = null;
      }
      clearMarkers(owner);
      setState("stopped");
    },
  };
}

/** {state, reason} when a close means "do not reconnect on your own", else null. */
function finalState(event) {
  if (event.code === CLOSE_FAILED) {
    return { state: "failed", reason: event.reason || "The language server keeps crashing." };
  }
  if (event.code === CLOSE_REPLACED) {
    return { state: "replaced", reason: event.reason || "This editor was opened in another tab." };
  }
  const reason = finalCloseReason(event);
  return reason ? { state: "stopped", reason } : null;
}

function createClient(transport) {
  // createFeatures() runs inside the base constructor; keep what it returns
  // so the providers can be unregistered (the base class drops it).
  class DisposableLspClient extends MonacoLspClient {
    createFeatures() {
      this.devbenchFeatures = super.createFeatures();
      return this.devbenchFeatures;
    }
  }
  const client = new DisposableLspClient(transport);
  // Initialisation failures surface as a closed socket; do not leave an
  // unhandled rejection behind.
  client._initPromise?.catch?.(() => {});
  return client;
}

function disposeClient(client) {
  if (!client) return;
  client.devbenchFeatures?.dispose();
  const bridge = client._bridge; // TextDocumentSynchronizer
  if (bridge) {
    for (const managed of bridge._managedModels?.values() ?? []) managed.dispose();
    bridge.dispose();
  }
  client._capabilitiesRegistry?.dispose();
}

function clearMarkers(owner) {
  for (const model of monaco.editor.getModels()) monaco.editor.setModelMarkers(model, owner, []);
}

/**
 * The IMessageTransport that MonacoLspClient talks to: JSON-RPC over one
 * WebSocket, plus the fixes described at the top of this file.
 */
class FilteringTransport {
  constructor({ socket, owner, languageIds, workspaceRootUri, settings, loadModel }) {
    Object.assign(this, { socket, owner, languageIds: new Set(languageIds), workspaceRootUri, settings, loadModel });
    this.locationRequests = new Set(); // ids of requests answered with locations in other files
    this.quietRequests = new Set(); // ids of requests whose failure is answered with no result
    this.listener = undefined;
    this.queue = []; // received before the client listens
    this.outbox = []; // sent before the socket is open
    this.pending = new Set(); // ids of the client's requests in flight
    this.completions = new Map(); // id -> params of completion requests in flight
    this.diagnostics = new Map(); // uri -> the server's last published diagnostics
    this.isClosed = false;
    this.stateListeners = new Set();
    this.state = {
      value: { state: "connecting" },
      onChange: (fn) => {
        this.stateListeners.add(fn);
        return { dispose: () => this.stateListeners.delete(fn) };
      },
    };
    socket.addEventListener("open", () => {
      this.setConnectionState({ state: "open" });
      for (const text of this.outbox.splice(0)) socket.send(text);
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(message);
    });
  }

  setConnectionState(value) {
    this.state.value = value;
    for (const fn of this.stateListeners) fn(value);
  }

  toString() {
    return `lsp-ws(${this.owner})`;
  }

  setListener(listener) {
    this.listener = listener;
    while (listener && this.queue.length > 0) listener(this.queue.shift());
  }

  deliver(message) {
    if (this.listener) this.listener(message);
    else this.queue.push(message);
  }

  /** The socket went away: answer every request still in flight. */
  closed() {
    if (this.isClosed) return;
    this.isClosed = true;
    this.setConnectionState({ state: "closed", error: undefined });
    for (const id of this.pending) this.deliver({ jsonrpc: "2.0", id, result: null });
    this.pending.clear();
  }

  // ---- client -> server -------------------------------------------------

  async send(message) {
    const isRequest = message.method !== undefined && message.id !== undefined;
    const isResponse = message.method === undefined;
    if (this.isClosed) {
      // A dead connection answers at once, so no editor feature waits forever.
      if (isRequest) queueMicrotask(() => this.deliver({ jsonrpc: "2.0", id: message.id, result: null }));
      return;
    }
    if (!isResponse) {
      message = this.rewriteOutgoing(message);
      if (message === null) return;
      if (message.answer !== undefined) {
        const answer = message.answer;
        queueMicrotask(() => this.deliver({ jsonrpc: "2.0", id: answer.id, result: null }));
        return;
      }
    }
    if (isRequest) this.pending.add(message.id);
    if (message.method === "textDocument/completion") this.completions.set(message.id, message.params);
    if (LOCATION_METHODS.has(message.method)) this.locationRequests.add(message.id);
    if (QUIET_FAILURE_METHODS.has(message.method)) this.quietRequests.add(message.id);
    const text = JSON.stringify(message);
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
    else this.outbox.push(text);
  }

  rewriteOutgoing(message) {
    const params = message.params;
    switch (message.method) {
      case "initialize":
        this.initializeId = message.id;
        return { ...message, params: this.initializeParams(params) };
      case "textDocument/didOpen": {
        const model = this.modelFor(params.textDocument.uri);
        if (!this.serves(model)) return null;
        const uri = model.uri.toString(true);
        return { ...message, params: { textDocument: { ...params.textDocument, uri } } };
      }
      case "textDocument/didChange":
      case "textDocument/didClose":
      case "textDocument/didSave": {
        const model = this.modelFor(params.textDocument.uri);
        if (!this.serves(model)) return null;
        const uri = model.uri.toString(true);
        return { ...message, params: { ...params, textDocument: { ...params.textDocument, uri } } };
      }
      case "textDocument/codeAction": {
        // The client rebuilds context.diagnostics from markers, dropping
        // `code` and `data`; ruff needs them to offer its quick fixes. Send
        // the server's own diagnostics that touch the range instead.
        const model = this.modelFor(params.textDocument.uri);
        if (!this.serves(model)) return { answer: { id: message.id } };
        const uri = model.uri.toString(true);
        const diagnostics = (this.diagnostics.get(uri) ?? []).filter((d) => overlaps(d.range, params.range));
        return { ...message, params: { ...params, textDocument: { uri }, context: { ...params.context, diagnostics } } };
      }
      default: {
        // Feature requests for documents this server does not see.
        const uri = params?.textDocument?.uri;
        if (uri !== undefined && message.method.startsWith("textDocument/")) {
          const model = this.modelFor(uri);
          if (!this.serves(model)) {
            return message.id !== undefined ? { answer: { id: message.id } } : null;
          }
        }
        return message;
      }
    }
  }

  initializeParams(params) {
    const capabilities = structuredClone(params.capabilities ?? {});
    // Pull diagnostics would write markers under the shared owner "lsp".
    if (capabilities.textDocument) delete capabilities.textDocument.diagnostic;
    capabilities.workspace = { ...capabilities.workspace, configuration: true, workspaceFolders: true };
    capabilities.window = { ...capabilities.window, workDoneProgress: true };
    return {
      ...params,
      processId: null,
      clientInfo: { name: "devbench" },
      rootUri: this.workspaceRootUri,
      workspaceFolders: [{ uri: this.workspaceRootUri, name: "workspace" }],
      capabilities,
    };
  }

  /** Whether this server sees `model` (null: no such model). */
  serves(model) {
    return Boolean(model) && this.languageIds.has(model.getLanguageId()) && languageServersAllowed(model);
  }

  /** The model for a URI the client sent (possibly lower-cased by it). */
  modelFor(uri) {
    const exact = monaco.editor.getModel(monaco.Uri.parse(uri));
    if (exact) return exact;
    const lower = uri.toLowerCase();
    return monaco.editor.getModels().find((m) => m.uri.toString(true).toLowerCase() === lower) ?? null;
  }

  // ---- server -> client -------------------------------------------------

  receive(message) {
    if (message.method === undefined) {
      // A response to one of the client's requests.
      this.pending.delete(message.id);
      if (this.quietRequests.delete(message.id) && message.error) {
        console.warn(`${this}: ${message.error.message}`);
        message = { jsonrpc: "2.0", id: message.id, result: null };
      }
      if (message.id === this.initializeId && message.result?.capabilities) {
        // Servers (ruff) announce pull diagnostics statically even when the
        // client did not ask for them; the client would then pull into "lsp".
        delete message.result.capabilities.diagnosticProvider;
      }
      const completion = this.completions.get(message.id);
      if (completion) {
        this.completions.delete(message.id);
        if (message.result) fillCompletionRanges(message.result, this.modelFor(completion.textDocument.uri), completion.position);
      }
      if (this.locationRequests.delete(message.id) && message.result) {
        this.loadTargets(message.result).finally(() => this.deliver(message));
        return;
      }
      this.deliver(message);
      return;
    }
    const reply = (result) => this.socket.send(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    switch (message.method) {
      case "textDocument/publishDiagnostics":
        this.publishDiagnostics(message.params);
        return;
      case "workspace/configuration":
        reply((message.params?.items ?? []).map((item) => lookup(this.settings, item.section)));
        return;
      case "window/workDoneProgress/create":
        reply(null);
        return;
      case "client/registerCapability": {
        // Give the client only what it knows (textDocument features); the
        // rest (file watching, configuration) is acknowledged here.
        const registrations = (message.params?.registrations ?? []).filter(
          (r) => r.method.startsWith("textDocument/") && r.method !== "textDocument/diagnostic",
        );
        if (registrations.length === 0) {
          reply(null);
          return;
        }
        this.deliver({ ...message, params: { registrations } });
        return;
      }
      default:
        this.deliver(message);
    }
  }

  /** Create the models of the files a location answer points to, so Monaco can go there. */
  async loadTargets(result) {
    const locations = Array.isArray(result) ? result : [result];
    const uris = new Set(locations.map((location) => location?.targetUri ?? location?.uri).filter(Boolean));
    for (const uri of uris) {
      const parsed = monaco.Uri.parse(uri);
      if (!monaco.editor.getModel(parsed)) {
        try {
          await this.loadModel(parsed);
        } catch {
          // Not loadable (outside the workspace, deleted): Monaco then stays put.
        }
      }
    }
  }

  publishDiagnostics({ uri, diagnostics }) {
    this.diagnostics.set(uri, diagnostics);
    const model = monaco.editor.getModel(monaco.Uri.parse(uri));
    if (!model) return;
    monaco.editor.setModelMarkers(model, this.owner, diagnostics.map(toMarker));
  }
}

/**
 * Items without a textEdit get an empty range at the cursor from the client,
 * so Monaco neither filters nor replaces the word being typed ("os.pa" would
 * list every member of os and insert "path" after "pa"). Give them the range
 * of the word before the cursor, or the list's default edit range.
 */
function fillCompletionRanges(result, model, position) {
  const items = Array.isArray(result) ? result : result.items;
  if (!model || !Array.isArray(items)) return;
  const defaults = Array.isArray(result) ? undefined : result.itemDefaults?.editRange;
  const word = model.getWordUntilPosition({ lineNumber: position.line + 1, column: position.character + 1 });
  const range = defaults && "start" in defaults ? defaults : defaults?.replace ?? {
    start: { line: position.line, character: word.startColumn - 1 },
    end: { line: position.line, character: position.character },
  };
  for (const item of items) {
    if (!item.textEdit) item.textEdit = { range, newText: item.textEditText ?? item.insertText ?? item.label };
  }
}

function overlaps(a, b) {
  const before = (p, q) => p.line < q.line || (p.line === q.line && p.character <= q.character);
  return before(a.start, b.end) && before(b.start, a.end);
}

function lookup(settings, section) {
  if (!section) return settings;
  let value = settings;
  for (const key of section.split(".")) {
    if (value === null || typeof value !== "object" || !(key in value)) return null;
    value = value[key];
  }
  return value;
}

const SEVERITY = {
  1: monaco.MarkerSeverity.Error,
  2: monaco.MarkerSeverity.Warning,
  3: monaco.MarkerSeverity.Info,
  4: monaco.MarkerSeverity.Hint,
};
const TAGS = { 1: monaco.MarkerTag.Unnecessary, 2: monaco.MarkerTag.Deprecated };

function toMarker(d) {
  const code = d.code === undefined ? undefined : String(d.code);
  return {
    severity: SEVERITY[d.severity] ?? monaco.MarkerSeverity.Error,
    startLineNumber: d.range.start.line + 1,
    startColumn: d.range.start.character + 1,
    endLineNumber: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    message: d.message,
    source: d.source,
    code: d.codeDescription?.href && code ? { value: code, target: monaco.Uri.parse(d.codeDescription.href) } : code,
    tags: (d.tags ?? []).map((t) => TAGS[t]).filter((t) => t !== undefined),
    relatedInformation: (d.relatedInformation ?? []).map((info) => ({
      resource: monaco.Uri.parse(info.location.uri),
      startLineNumber: info.location.range.start.line + 1,
      startColumn: info.location.range.start.character + 1,
      endLineNumber: info.location.range.end.line + 1,
      endColumn: info.location.range.end.character + 1,
      message: info.message,
    })),
  };
}
