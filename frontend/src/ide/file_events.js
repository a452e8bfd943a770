// The workspace events socket (docs/protocols.md, "/ws/workspaces/<id>/events/"):
// what changed on disk without this page doing it (a terminal, a run,
// another member, git), role changes, and the workspace's deletion. It
// reconnects with backoff; after every "ready" the page reads again what it
// shows, since changes made while it was away were not reported.
//
// The socket's state is mirrored on #ide as data-events-state
// ("connecting" | "ready" | "reconnecting" | "closed") for tests.
import { Backoff } from "../lib/backoff.js";
import { CLOSE_RESTARTED, webSocketUrl } from "../lib/websocket.js";

const PING_INTERVAL_MS = 30_000;
const CLOSE_FORBIDDEN = 4003;
const CLOSE_NOT_FOUND = 4004;

export class WorkspaceEvents {
  /**
   * @param {object} options
   * @param {string} options.workspaceId
   * @param {HTMLElement} options.stateElement  gets data-events-state
   * @param {(ready: {canEdit: boolean, watching: boolean}) => void} options.onReady
   * @param {(changes: {path: string, change: string, kind: string}[]) => void} options.onChanges
   * @param {(reason: string) => void} options.onResync
   * @param {(message: {canEdit: boolean, message: string}) => void} options.onAccessChanged
   * @param {(closed: {reason: "deleted" | "revoked", message: string}) => void} options.onClosed
   * @param {(notice: {level: string, code: string, message: string}) => void} options.onNotice
   */
  constructor({ workspaceId, stateElement, onReady, onChanges, onResync, onAccessChanged, onClosed, onNotice }) {
    Object.assign(this, { stateElement, onReady, onChanges, onResync, onAccessChanged, onClosed, onNotice });
    this.url = webSocketUrl(`/ws/workspaces/${encodeURIComponent(workspaceId)}/events/`);
    this.backoff = new Backoff();
    this.socket = null;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.awaitingPong = false;
    this.closedFor = null; // the final message, once the workspace is gone or access revoked
    this.disposed = false;
    this.connect();
  }

  setState(state) {
    this.stateElement.dataset.eventsState = state;
  }

  connect() {
    clearTimeout(this.reconnectTimer);
    this.setState(this.backoff.attempt > 0 ? "reconnecting" : "connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.backoff.connected();
      this.startPings();
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.awaitingPong = false;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(message);
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.handleClose(event);
    });
  }

  handle(message) {
    switch (message.type) {
      case "ready":
        this.setState("ready");
        this.onReady({ canEdit: Boolean(message.can_edit), watching: Boolean(message.watching) });
        break;
      case "changes":
        if (Array.isArray(message.changes) && message.changes.length) this.onChanges(message.changes);
        break;
      case "resync":
        this.onResync(String(message.reason || ""));
        break;
      case "access_changed":
        this.onAccessChanged({ canEdit: Boolean(message.can_edit), message: String(message.message || "") });
        break;
      case "workspace_closed":
        this.closedFor = { reason: "deleted", message: String(message.message || "This workspace was deleted.") };
        break;
      case "notice":
        if (message.code === "access_revoked") this.closedFor = { reason: "revoked", message: String(message.message) };
        else this.onNotice({ level: message.level, code: message.code, message: String(message.message || "") });
        break;
      default:
        break; // "pong", and types added to the protocol later
    }
  }

  handleClose({ code }) {
    this.socket = null;
    this.stopPings();
    this.backoff.disconnected();
    if (this.disposed) return;
    if (this.closedFor && (code === CLOSE_NOT_FOUND || code === CLOSE_FORBIDDEN)) {
      this.setState("closed");
      this.onClosed(this.closedFor);
      return;
    }
    // Anything else passes: a restart (4001), a workspace not ready yet (4004
    // without workspace_closed), a handshake refused while the server
    // restarts, a network drop. A page whose access ended for good hears it
    // from the server's answer to the next handshake, or from the API.
    this.setState("reconnecting");
    const delay = this.backoff.nextDelay({ immediate: code === CLOSE_RESTARTED });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  startPings() {
    this.stopPings();
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        // Nothing came back since the last ping: the connection is dead
        // although the browser has not noticed (sleep, network change).
        const socket = this.socket;
        this.socket = null;
        if (socket) socket.close();
        this.handleClose({ code: 1006 });
        return;
      }
      this.awaitingPong = true;
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type: "ping" }));
    }, PING_INTERVAL_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.reconnectTimer);
    this.stopPings();
    this.backoff.reset();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
  }
}
