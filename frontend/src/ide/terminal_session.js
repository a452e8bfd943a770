// One terminal tab: an xterm.js terminal and the WebSocket to one named
// shell session on the server (docs/protocols.md, "terminals"). The shell
// belongs to the server, not to the socket, so a dropped connection is
// simply re-attached; the server replays recent output on attach.
import "@xterm/xterm/css/xterm.css";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { Backoff } from "../lib/backoff.js";
import { CLOSE_RESTARTED, finalCloseReason, webSocketUrl } from "../lib/websocket.js";

// Acknowledge rendered output in batches: one ack per frame would double
// the message count, and the server only needs to know we keep up (its
// high watermark is 256 KiB).
const ACK_BATCH_BYTES = 16 * 1024;
const RESIZE_DEBOUNCE_MS = 80;
// A ping that gets no answer before the next one means the connection is
// dead even though the browser has not noticed (sleep, network change).
const PING_INTERVAL_MS = 30_000;

const NOTICE_STYLE = { info: "\x1b[2m", warning: "\x1b[33m", error: "\x1b[31m" };
const RESET_STYLE = "\x1b[0m";
// RIS (full reset): clears screen and scrollback before a replay, so the
// replayed history is not shown twice after a reconnect.
const FULL_RESET = "\x1bc";

const encoder = new TextEncoder();

/**
 * `state` is "connecting" | "ready" | "reconnecting" | "closed"; `detail`
 * says why (attempt number, close reason). onStateChange(session) is called
 * on every change, onEnvironmentChanged(message) for environment_changed.
 */
export class TerminalSession {
  constructor({ workspaceId, name, host, onStateChange, onEnvironmentChanged }) {
    Object.assign(this, { workspaceId, name, host, onStateChange, onEnvironmentChanged });
    this.url = webSocketUrl(`/ws/workspaces/${encodeURIComponent(workspaceId)}/terminals/${encodeURIComponent(name)}/`);
    this.state = "connecting";
    this.detail = "";
    this.readonly = false;
    this.socket = null;
    this.generation = 0; // which socket a pending write callback belongs to
    this.backoff = new Backoff();
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.resizeTimer = null;
    this.awaitingPong = false;
    this.exited = false; // the shell ended (an "exit" message came)
    this.retryOnEnter = false; // closed for good: Enter connects afresh
    this.errorNotice = ""; // the last error notice on this connection
    this.disposed = false;
    this.opened = false;
    this.sentSize = "";
    this.atLineStart = true; // nothing written yet, or our own notice last

    this.term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace',
      fontSize: 13,
      scrollback: 5000,
      theme: { background: "#1e1e1e", foreground: "#cccccc", cursor: "#aeafad", selectionBackground: "#264f78" },
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.onData((data) => {
      if (this.retryOnEnter) {
        if (data.includes("\r")) this.reconnectFresh();
        return;
      }
      this.sendInput(encoder.encode(data));
    });
    // onBinary carries bytes as a string of char codes 0-255 (some mouse
    // reports); UTF-8 encoding them would corrupt codes above 127.
    this.term.onBinary((data) => this.sendInput(Uint8Array.from(data, (char) => char.charCodeAt(0) & 0xff)));

    // Covers panel resizes, tab switches (hidden -> shown) and window resizes.
    this.resizeObserver = new ResizeObserver(() => this.scheduleFit());
    this.resizeObserver.observe(host);
    this.connect();
  }

  // ---- layout and focus -------------------------------------------------

  /** xterm measures its font on open(), so it is opened once the host is visible. */
  ensureOpen() {
    if (this.opened || this.host.clientWidth === 0 || this.host.clientHeight === 0) return this.opened;
    this.term.open(this.host);
    this.opened = true;
    return true;
  }

  scheduleFit() {
    clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => this.fitToHost(), RESIZE_DEBOUNCE_MS);
  }

  fitToHost() {
    if (this.disposed || !this.ensureOpen() || this.host.clientWidth === 0) return;
    this.fit.fit();
    this.sendSize();
  }

  focus() {
    if (this.ensureOpen()) this.term.focus();
  }

  // ---- connection -------------------------------------------------------

  connect() {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.generation += 1;
    this.pendingAck = 0;
    this.writesInFlight = 0;
    this.sentSize = "";
    this.exited = false;
    this.errorNotice = "";
    this.setState(this.backoff.attempt > 0 ? "reconnecting" : "connecting", this.attemptText());
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.backoff.connected();
      this.startPings();
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.awaitingPong = false;
      if (typeof event.data === "string") this.handleMessage(event.data);
      else this.writeOutput(new Uint8Array(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.handleClose(event);
    });
  }

  handleClose({ code, reason }) {
    this.socket = null;
    this.backoff.disconnected();
    this.stopPings();
    if (this.disposed) return;
    if (this.exited) {
      // Viewers cannot start a shell; they wait for someone who can.
      this.retryOnEnter = !this.readonly;
      this.setState("closed", "process exited");
      return;
    }
    // The server explains a refusal in an error notice before closing.
    const finalReason = finalCloseReason({ code, reason: reason || this.errorNotice });
    if (finalReason) {
      if (finalReason !== this.errorNotice) this.writeNotice("error", finalReason);
      // The cause may pass (a workspace still provisioning, a limit after
      // closing other terminals), so the user can try again.
      this.writeNotice("info", "Press Enter to try again.");
      this.retryOnEnter = true;
      this.setState("closed", finalReason);
      return;
    }
    // 4001: the server replaced or restarted the session and asks us to
    // come back now; repeated 4001s still back off.
    const delay = this.backoff.nextDelay({ immediate: code === CLOSE_RESTARTED });
    this.setState("reconnecting", this.attemptText());
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  attemptText() {
    return this.backoff.attempt > 0 ? `attempt ${this.backoff.attempt}` : "";
  }

  /** After an exit or a refusal: a new connection (a new shell if the old one ended). */
  reconnectFresh() {
    this.retryOnEnter = false;
    this.backoff.reset();
    this.connect();
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  sendInput(bytes) {
    if (this.readonly || this.state !== "ready" || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.socket.send(bytes);
  }

  sendSize() {
    if (this.readonly || this.state !== "ready" || !this.opened) return;
    const { cols, rows } = this.term;
    const size = `${cols}x${rows}`;
    if (size === this.sentSize) return;
    this.sentSize = size;
    this.send({ type: "resize", cols, rows });
  }

  startPings() {
    this.stopPings();
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) {
        // Nothing at all came back since the last ping: give up on this
        // socket without waiting for a close handshake that may never end.
        const socket = this.socket;
        this.socket = null;
        if (socket) socket.close();
        this.handleClose({ code: 1006, reason: "" });
        return;
      }
      this.awaitingPong = true;
      this.send({ type: "ping" });
    }, PING_INTERVAL_MS);
  }

  stopPings() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  // ---- messages ---------------------------------------------------------

  handleMessage(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    switch (message.type) {
      case "ready":
        // Read-only input is dropped in sendInput(), not by xterm's
        // disableStdin, so that Enter can still retry after a refusal.
        this.readonly = Boolean(message.readonly);
        if (message.replayed > 0) this.term.write(FULL_RESET);
        this.setState("ready", "");
        this.fitToHost();
        break;
      case "exit":
        this.exited = true;
        this.writeNotice(
          "info",
          this.readonly ? `[process exited with code ${message.code}]` : `[process exited with code ${message.code}] — press Enter to start a new shell`,
        );
        break;
      case "notice":
        if (message.level === "error") this.errorNotice = String(message.message);
        this.writeNotice(message.level, message.message);
        // The page closes everything of a deleted workspace (main.js), whichever socket hears it first.
        if (message.code === "workspace_closed") {
          document.dispatchEvent(new CustomEvent("devbench:workspace-closed", { detail: { message: String(message.message) } }));
        }
        // The user's role changed while attached: follow the server's word
        // on whether this client may type, and size the PTY again if so.
        if (message.code === "access_changed" && typeof message.readonly === "boolean") {
          this.readonly = message.readonly;
          this.sentSize = "";
          this.setState(this.state, this.detail);
          this.sendSize();
        }
        break;
      case "environment_changed":
        this.onEnvironmentChanged(message);
        break;
      default:
        break; // "pong", and types added to the protocol later
    }
  }

  /** PTY output; acknowledged once xterm has parsed it (flow control). */
  writeOutput(bytes) {
    const generation = this.generation;
    this.atLineStart = false;
    this.writesInFlight += 1;
    this.term.write(bytes, () => {
      if (generation !== this.generation) return; // written for a socket that is gone
      this.writesInFlight -= 1;
      this.pendingAck += bytes.length;
      if (this.pendingAck >= ACK_BATCH_BYTES || this.writesInFlight === 0) {
        this.send({ type: "ack", bytes: this.pendingAck });
        this.pendingAck = 0;
      }
    });
  }

  /** A line of our own between the shell's output, on a line of its own. */
  writeNotice(level, message) {
    const style = NOTICE_STYLE[level] || NOTICE_STYLE.info;
    const start = this.atLineStart ? "" : "\r\n";
    this.term.write(`${start}${style}${String(message).replace(/\r?\n/g, "\r\n")}${RESET_STYLE}\r\n`);
    this.atLineStart = true;
  }

  setState(state, detail) {
    this.state = state;
    this.detail = detail;
    this.onStateChange(this);
  }

  // ---- teardown ---------------------------------------------------------

  /** Closes the socket; with `kill` the server ends the shell (and everything it started) first. */
  dispose({ kill = false } = {}) {
    if (kill && !this.readonly) this.send({ type: "close" });
    this.disposed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.resizeTimer);
    this.stopPings();
    this.backoff.reset();
    this.resizeObserver.disconnect();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
    this.term.dispose();
  }
}
