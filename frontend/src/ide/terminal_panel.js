// The Terminal panel: a tab per named terminal session. Tab names are the
// session names in the socket URL, and the names of the open tabs are kept
// per workspace in localStorage, so reloading the page re-attaches to the
// same shells (the server keeps them for a grace period after the last
// socket closes). Closing a tab only detaches; "Kill" ends the shell.
import { notify } from "../lib/dialogs.js";
import { h, icon } from "../lib/dom.js";
import { TerminalSession } from "./terminal_session.js";

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const DEFAULT_NAME = "main";

const STATE_TEXT = {
  connecting: "connecting…",
  ready: "",
  reconnecting: "reconnecting…",
  closed: "closed",
};

// For browser tests only: name -> { term }, to read the xterm buffer.
const testHandles = new Map();
window.devbenchTerminals = testHandles;

export class TerminalPanel {
  constructor({ element, workspaceId, canEdit }) {
    Object.assign(this, { element, workspaceId, canEdit });
    this.storageKey = `devbench.terminals.${workspaceId}`;
    this.sessions = new Map(); // name -> { session, tab, view }
    this.active = null;
    this.lastEnvironmentChange = null;

    this.tabList = h("div", { class: "terminal-tabs", role: "tablist", "aria-label": "Terminals" });
    // Viewers watch the shells others run; they cannot start one.
    const newButton = canEdit
      ? h("button", { type: "button", class: "icon-button", title: "New terminal", "aria-label": "New terminal", dataset: { testid: "new-terminal" } }, icon("M8 3v10 M3 8h10"))
      : null;
    if (newButton) newButton.addEventListener("click", () => this.open(this.unusedName(), { focus: true }));
    const killButton = canEdit
      ? h("button", { type: "button", class: "icon-button", title: "Kill terminal (ends its shell)", "aria-label": "Kill terminal", dataset: { testid: "kill-terminal" } }, icon("M2.5 4h11 M6 4V2.5h4V4 M4 4l.75 9.5h6.5L12 4 M6.75 6.5v4.5 M9.25 6.5v4.5"))
      : null;
    if (killButton) killButton.addEventListener("click", () => this.active && this.close(this.active, { kill: true }));
    this.views = h("div", { class: "terminal-views" });
    this.emptyState = h("p", { class: "panel-placeholder", hidden: true }, canEdit ? "No terminal open. Use + to open one." : "No terminal open.");
    element.classList.add("terminal-panel");
    element.replaceChildren(
      h("div", { class: "terminal-bar" }, this.tabList, h("div", { class: "toolbar", role: "toolbar", "aria-label": "Terminal actions" }, newButton, killButton)),
      this.views,
      this.emptyState,
    );

    // Clicks on the panel's chrome (not on a button) put the focus in the
    // terminal, as clicking a real terminal window does.
    element.addEventListener("click", (event) => {
      if (!event.target.closest("button, .xterm")) this.focus();
    });
    window.addEventListener("resize", () => this.active && this.sessions.get(this.active).session.scheduleFit());

    const saved = this.loadNames();
    for (const name of saved.names) this.open(name, { save: false });
    this.activate(saved.active && this.sessions.has(saved.active) ? saved.active : saved.names[0]);
  }

  // ---- persistence ------------------------------------------------------

  loadNames() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.storageKey));
      const names = Array.isArray(stored?.names) ? [...new Set(stored.names.filter((name) => NAME_PATTERN.test(name)))] : [];
      if (names.length || Array.isArray(stored?.names)) return { names, active: stored.active };
    } catch {
      // Unreadable or blocked storage: start with the default.
    }
    return { names: [DEFAULT_NAME], active: DEFAULT_NAME };
  }

  saveNames() {
    try {
      localStorage.setItem(this.storageKey, JSON.stringify({ names: [...this.sessions.keys()], active: this.active }));
    } catch {
      // Private mode or quota: the tabs just will not survive a reload.
    }
  }

  /** main, term-2, term-3, ...: the first name no open tab uses. */
  unusedName() {
    if (!this.sessions.has(DEFAULT_NAME)) return DEFAULT_NAME;
    for (let number = 2; ; number += 1) {
      if (!this.sessions.has(`term-${number}`)) return `term-${number}`;
    }
  }

  // ---- tabs -------------------------------------------------------------

  open(name, { focus = false, save = true } = {}) {
    if (!this.sessions.has(name)) {
      const view = h("div", { class: "terminal-view", id: `terminal-view-${name}`, role: "tabpanel", hidden: true, dataset: { testid: "terminal", name } });
      this.views.append(view);
      const tab = this.buildTab(name);
      this.tabList.append(tab);
      const session = new TerminalSession({
        workspaceId: this.workspaceId,
        name,
        host: view,
        onStateChange: (changed) => this.renderState(changed),
        onEnvironmentChanged: (message) => this.environmentChanged(message),
      });
      this.sessions.set(name, { session, tab, view });
      testHandles.set(name, { term: session.term });
      this.renderState(session);
    }
    this.activate(name);
    if (save) this.saveNames();
    if (focus) this.focus();
  }

  buildTab(name) {
    const tab = h(
      "div",
      { class: "terminal-tab", role: "tab", tabindex: "-1", "aria-selected": "false", "aria-controls": `terminal-view-${name}`, dataset: { testid: "terminal-tab", name, state: "connecting" } },
      h("span", { class: "terminal-dot", "aria-hidden": "true" }),
      h("span", { class: "terminal-tab-name" }, name),
      h("span", { class: "terminal-tab-status" }),
      h("span", { class: "terminal-readonly", hidden: true, title: "You can watch this terminal but not type in it", dataset: { testid: "terminal-readonly" } }, "read-only"),
      h("button", { type: "button", class: "tab-close", "aria-label": `Close terminal ${name}`, title: "Close (the shell keeps running for a while)", dataset: { testid: "terminal-tab-close" } }, "×"),
    );
    tab.addEventListener("click", (event) => {
      if (event.target.closest(".tab-close")) {
        this.close(name);
        return;
      }
      this.activate(name);
      this.focus();
    });
    return tab;
  }

  activate(name) {
    if (!this.sessions.has(name)) {
      this.active = null;
      this.emptyState.hidden = this.sessions.size > 0;
      return;
    }
    this.active = name;
    this.emptyState.hidden = true;
    for (const [other, { tab, view }] of this.sessions) {
      const selected = other === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.classList.toggle("active", selected);
      view.hidden = !selected;
    }
    this.sessions.get(name).session.scheduleFit();
    this.saveNames();
  }

  close(name, { kill = false } = {}) {
    const entry = this.sessions.get(name);
    if (!entry) return;
    entry.session.dispose({ kill });
    entry.tab.remove();
    entry.view.remove();
    this.sessions.delete(name);
    testHandles.delete(name);
    if (this.active === name) {
      const remaining = [...this.sessions.keys()];
      this.activate(remaining[remaining.length - 1]);
    }
    this.saveNames();
  }

  focus() {
    if (this.active) this.sessions.get(this.active).session.focus();
  }

  /** Detaches every tab for good, leaving the shells alone (the workspace is gone). */
  disposeAll() {
    for (const { session } of this.sessions.values()) session.dispose();
    this.sessions.clear();
    testHandles.clear();
  }

  renderState(session) {
    const entry = this.sessions.get(session.name);
    if (!entry) return; // called from the constructor, before the entry exists
    const { tab } = entry;
    tab.dataset.state = session.state;
    const status = STATE_TEXT[session.state] ?? session.state;
    tab.querySelector(".terminal-tab-status").textContent =
      session.state === "reconnecting" && session.backoff.attempt > 0 ? `reconnecting… (attempt ${session.backoff.attempt})` : status;
    tab.querySelector(".terminal-readonly").hidden = !session.readonly;
    tab.title = session.detail ? `${session.name}: ${session.state} (${session.detail})` : `${session.name}: ${session.state}`;
  }

  /** Every attached terminal hears about a package change; tell the page once. */
  environmentChanged(message) {
    const key = message.updated_at ?? "";
    if (this.lastEnvironmentChange === key && key !== "") return;
    this.lastEnvironmentChange = key;
    notify("Packages changed: language servers and runner restart", { kind: "info", timeout: 6000 });
    document.dispatchEvent(new CustomEvent("devbench:environment-changed", { detail: { updatedAt: message.updated_at ?? null } }));
  }
}
