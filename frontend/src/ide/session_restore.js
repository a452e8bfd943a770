// Open tabs survive a reload: which files were open, in which order, which
// one was active, and each one's cursor, selection and scroll position.
// Kept in localStorage per user and workspace (two people sharing a browser,
// or one person's workspaces, do not mix). Unsaved text is not kept: the page
// asks before a reload that would lose it.
//
// The tabs are watched from outside (the tab bar's children, the editor's
// events) rather than through hooks in editor_tabs.js, so this module is the
// only place that knows about sessions.

const VERSION = 1;
const MAX_TABS = 50;
const SAVE_DELAY_MS = 300;

export class SessionRestore {
  /**
   * @param {object} options
   * @param {import('./editor_tabs.js').EditorTabs} options.tabs
   * @param {string} options.workspaceId
   * @param {string} options.userId
   */
  constructor({ tabs, workspaceId, userId }) {
    Object.assign(this, { tabs });
    this.storageKey = `devbench.editor-session.${userId}.${workspaceId}`;
    this.restoring = false;
    this.timer = null;
  }

  /** Reopens the saved tabs, then keeps the saved state up to date. */
  async start() {
    this.restoring = true;
    try {
      await this.restore(this.load());
    } finally {
      this.restoring = false;
    }
    const schedule = () => this.schedule();
    new MutationObserver(schedule).observe(this.tabs.tabBar, { childList: true });
    this.tabs.editor.onDidChangeModel(schedule);
    this.tabs.editor.onDidChangeCursorSelection(schedule);
    this.tabs.editor.onDidScrollChange(schedule);
    // pagehide also fires where beforeunload does not (mobile, bfcache).
    window.addEventListener("pagehide", () => this.save());
    this.save();
  }

  load() {
    try {
      const stored = JSON.parse(localStorage.getItem(this.storageKey));
      if (stored?.version !== VERSION || !Array.isArray(stored.tabs)) return null;
      return stored;
    } catch {
      return null; // unreadable or blocked storage: start with no tabs
    }
  }

  async restore(state) {
    if (!state) return;
    const saved = state.tabs.filter((entry) => typeof entry?.path === "string").slice(0, MAX_TABS);
    for (const entry of saved) await this.tabs.open(entry.path); // one by one: the order is the tab order
    const views = new Map(saved.map((entry) => [entry.path, entry.view]));
    for (const tab of this.tabs.tabs) {
      const view = views.get(tab.path);
      if (!view) continue;
      tab.viewState = view;
      // The tab on show keeps its live state until another is activated.
      if (tab === this.tabs.active) this.tabs.editor.restoreViewState(view);
    }
    const active = this.tabs.find(state.active);
    if (active) this.tabs.activate(active);
  }

  schedule() {
    if (this.restoring) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), SAVE_DELAY_MS);
  }

  save() {
    if (this.restoring) return;
    clearTimeout(this.timer);
    const tabs = this.tabs.tabs.slice(0, MAX_TABS).map((tab) => ({ path: tab.path, view: viewOf(tab === this.tabs.active ? this.tabs.editor.saveViewState() : tab.viewState) }));
    const state = { version: VERSION, tabs, active: this.tabs.active?.path ?? null };
    try {
      localStorage.setItem(this.storageKey, JSON.stringify(state));
    } catch {
      // Private mode or quota: the tabs just will not come back after a reload.
    }
  }
}

/** The parts of Monaco's view state worth keeping: cursors, selections and scroll position. */
function viewOf(viewState) {
  if (!viewState) return null;
  return { cursorState: viewState.cursorState, viewState: viewState.viewState, contributionsState: {} };
}
