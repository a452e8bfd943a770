// The Run and Stop buttons: runs the active file in the workspace's warm
// Python runner over /ws/workspaces/<id>/runner/ (docs/protocols.md,
// "runner") and streams its output into the Output panel.
//
// The socket is opened on the first run. Once it has worked it is kept up,
// reconnecting with backoff, so later runs start without a handshake. A run
// that was going on when the socket dropped is reported as failed: its
// output is gone with the socket.
import { notify } from "../lib/dialogs.js";
import { Backoff } from "../lib/backoff.js";
import { CLOSE_RESTARTED, finalCloseReason, webSocketUrl } from "../lib/websocket.js";

export class Runner {
  constructor({ workspaceId, tabs, output, panels, runButton, stopButton, statusElement }) {
    Object.assign(this, { tabs, output, panels, runButton, stopButton, statusElement });
    this.url = webSocketUrl(`/ws/workspaces/${encodeURIComponent(workspaceId)}/runner/`);
    this.socket = null;
    this.socketOpen = false;
    this.keepConnected = false; // set once a socket has opened: reconnect after drops
    this.backoff = new Backoff();
    this.reconnectTimer = null;
    this.preparing = false; // saving the file before a run
    this.current = null; // { label, runId } while a run is requested or going on
    this.pendingMessage = null; // the run message waiting for the socket to open
    runButton.addEventListener("click", () => this.runActiveFile());
    stopButton.addEventListener("click", () => this.stop());
    this.setState("idle", "");
  }

  // ---- user actions -----------------------------------------------------

  async runActiveFile() {
    if (this.preparing || this.current) return;
    const tab = this.tabs.active;
    if (!tab) {
      notify("Open a Python file to run it.", { kind: "info" });
      return;
    }
    if (!tab.path.endsWith(".py")) {
      notify(`Only Python files can be run; ${tab.path} is not one.`, { kind: "info" });
      return;
    }
    this.preparing = true;
    this.render();
    try {
      // The runner reads the file from disk: run what the user sees.
      if (tab.dirty) await this.tabs.save(tab);
    } finally {
      this.preparing = false;
      this.render();
    }
    if (tab.dirty) {
      notify(`${tab.path} was not run because it could not be saved.`, { kind: "error" });
      return;
    }
    this.start({ type: "run", path: tab.path }, tab.path);
  }

  stop() {
    if (!this.current) return;
    if (this.pendingMessage) {
      this.pendingMessage = null;
      this.output.log(`Run of ${this.current.label} cancelled before it started`);
      this.current = null;
      this.setState("idle", "");
      return;
    }
    this.send({ type: "stop" });
    this.setState("running", `Stopping ${this.current.label}…`);
  }

  start(message, label) {
    this.current = { label, runId: null };
    this.panels.show("output-panel");
    this.output.log(`▶ Running ${label}`, "run");
    this.output.scrollToEnd();
    this.setState("running", `Running ${label}…`);
    if (this.socketOpen) {
      this.send(message);
    } else {
      this.pendingMessage = message;
      this.connect();
    }
  }

  // ---- connection -------------------------------------------------------

  connect() {
    if (this.socket) return; // already connecting
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.socketOpen = false;
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.socketOpen = true;
      this.keepConnected = true;
      this.backoff.connected();
      if (this.pendingMessage) {
        this.send(this.pendingMessage);
        this.pendingMessage = null;
      }
    });
    socket.addEventListener("message", (event) => {
      if (socket === this.socket && typeof event.data === "string") this.handleMessage(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.handleClose(event);
    });
  }

  handleClose(event) {
    const wasOpen = this.socketOpen;
    this.socket = null;
    this.socketOpen = false;
    this.pendingMessage = null;
    this.backoff.disconnected();
    const finalReason = finalCloseReason(event);
    if (this.current) {
      this.failRun(finalReason || (wasOpen ? "The connection to the runner was lost during the run." : "Could not connect to the runner."));
    }
    if (finalReason) {
      this.keepConnected = false;
      this.backoff.reset();
      return;
    }
    if (!this.keepConnected) return; // never worked: the next Run tries again
    const delay = this.backoff.nextDelay({ immediate: event.code === CLOSE_RESTARTED });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  send(message) {
    if (this.socketOpen) this.socket.send(JSON.stringify(message));
  }

  /** Closes the socket for good (the workspace is gone). */
  dispose() {
    this.keepConnected = false;
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = null;
    this.socketOpen = false;
    if (socket) socket.close(1000);
  }

  // ---- messages ---------------------------------------------------------

  handleMessage(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const run = this.current;
    switch (message.type) {
      case "started":
        if (run) run.runId = message.run_id;
        break;
      case "output":
        if (run && (run.runId === null || run.runId === message.run_id)) this.output.stream(message.data, message.stream === "stderr" ? "stderr" : "stdout");
        break;
      case "finished":
        if (!run) break;
        this.output.log(`■ Exited with code ${message.exit_code} in ${message.duration_ms} ms`, "run");
        this.current = null;
        this.setState("finished", `${run.label} exited with code ${message.exit_code}`);
        break;
      case "restarting":
        this.output.log(`Restarting the runner${message.reason ? `: ${message.reason}` : " because the environment changed"}`);
        break;
      case "error":
        this.output.error(message.message || `Runner error: ${message.code}`);
        if (message.stderr) this.output.stream(message.stderr.endsWith("\n") ? message.stderr : `${message.stderr}\n`, "stderr");
        if (run) this.failRun(null, message.message || message.code);
        break;
      default:
        break; // types added to the protocol later
    }
  }

  /** Ends the current run as failed; `reason` (if any) goes to the Output panel. */
  failRun(reason, statusText = reason) {
    if (reason) this.output.error(reason);
    const run = this.current;
    this.current = null;
    this.setState("error", `${run.label}: ${statusText}`);
  }

  // ---- display ----------------------------------------------------------

  setState(state, text) {
    this.statusElement.dataset.state = state;
    this.statusElement.textContent = text;
    this.statusElement.title = text;
    this.render();
  }

  render() {
    this.runButton.disabled = this.preparing || Boolean(this.current);
    this.stopButton.disabled = !this.current;
  }
}
