// Open files: one Monaco editor, one text model per tab, swapped on tab
// switch (cheaper than an editor per tab, and view state is kept per tab).
//
// Saving uses optimistic concurrency: each tab remembers the etag of the
// version it was loaded from, and the server refuses a save based on a stale
// etag (409 "conflict") instead of silently overwriting someone else's
// change. The conflict bar then lets the user reload, overwrite or compare.
//
// Large files open without language servers, or read-only (large_files.js).
import { ApiError, errorMessage } from "../lib/api.js";
import { choiceDialog, notify, notifyError } from "../lib/dialogs.js";
import { h } from "../lib/dom.js";
import { CompareView } from "./compare_view.js";
import { ConflictBar } from "./conflict_bar.js";
import { largeFilePolicy, setLanguageServersFor } from "./large_files.js";
import { languageForPath } from "./languages.js";
import { baseName, isSameOrInside, movedPath, parentPath } from "./paths.js";

const NOT_SAVED_YET = -1; // a savedVersion no model ever has: "always dirty"

const ORDINARY_FILE = { languageServers: true, editable: true, note: "" };

class Tab {
  constructor(path, model, etag, policy = ORDINARY_FILE) {
    this.path = path;
    this.model = model;
    this.etag = etag;
    this.policy = policy; // largeFilePolicy(): language servers, editable, note
    this.savedVersion = model.getAlternativeVersionId();
    this.viewState = null;
    this.saving = null; // the in-flight save promise
    this.saveAgain = false;
    this.saveError = null;
    this.conflict = null; // { currentEtag, deleted? } after a 409, or when the disk changed under edits
    this.checking = null; // { again, promise }: the comparison with the disk under way (file_events.js)
    this.element = null;
  }

  // The alternative version id returns to its old value when edits are
  // undone, so undoing back to the saved text clears the dirty marker.
  get dirty() {
    return this.model.getAlternativeVersionId() !== this.savedVersion;
  }
}

export class EditorTabs {
  constructor({ monaco, files, canEdit, sizeLimits, tabBar, editorHost, diffHost, emptyState, conflictBar, status, output }) {
    Object.assign(this, { monaco, files, canEdit, sizeLimits, tabBar, editorHost, emptyState, status, output });
    this.tabs = [];
    this.active = null;
    this.opening = new Map(); // path -> promise, so a double click opens one tab
    this.editor = monaco.editor.create(editorHost, {
      model: null,
      theme: "vs-dark",
      automaticLayout: true,
      readOnly: !canEdit,
      readOnlyMessage: { value: "You have view-only access to this workspace." },
      fontSize: 13,
      scrollBeyondLastLine: false,
      renderWhitespace: "selection",
      fixedOverflowWidgets: true,
    });
    this.compare = new CompareView({ monaco, host: diffHost, editorHost, onClose: () => this.editor.focus() });
    this.conflictBar = new ConflictBar(conflictBar, {
      onReload: () => this.reloadFromDisk(this.active),
      onOverwrite: () => this.overwrite(this.active),
      onCompare: () => this.showCompare(this.active),
    });
    this.editor.onDidChangeCursorPosition((event) => this.status.setPosition(event.position));
    this.editor.onDidChangeModelContent(() => {
      if (this.active) this.refreshTab(this.active);
    });
    this.showEmptyState();
  }

  find(path) {
    return this.tabs.find((tab) => tab.path === path) || null;
  }

  hasDirtyTabs() {
    return this.tabs.some((tab) => tab.dirty);
  }

  modelUri(path) {
    // Workspace-rooted URIs: the language servers will see the same paths.
    return this.monaco.Uri.from({ scheme: "file", path: `/workspace/${path}` });
  }

  createModel(path, content, policy = ORDINARY_FILE) {
    const uri = this.modelUri(path);
    const stale = this.monaco.editor.getModel(uri);
    if (stale) stale.dispose();
    // Before the model exists: language clients open a model as it is created.
    setLanguageServersFor(uri, policy.languageServers);
    return this.monaco.editor.createModel(content, languageForPath(path), uri);
  }

  policyFor(file) {
    return largeFilePolicy(file.size, this.sizeLimits);
  }

  /**
   * A model of `path` with its saved content, without opening a tab (for
   * "go to definition" into a file that is not open; opening its tab later
   * replaces it). Null if it cannot be read.
   */
  async preloadModel(path) {
    const uri = this.modelUri(path);
    const existing = this.monaco.editor.getModel(uri);
    if (existing) return existing;
    try {
      const file = await this.files.read(path);
      if (this.monaco.editor.getModel(uri)) return this.monaco.editor.getModel(uri);
      setLanguageServersFor(uri, this.policyFor(file).languageServers);
      return this.monaco.editor.createModel(file.content, languageForPath(path), uri);
    } catch {
      return null;
    }
  }

  // ---- opening and switching -------------------------------------------

  /** Opens `path` in a tab (or focuses its tab). Errors are shown, not thrown. */
  async open(path) {
    const existing = this.find(path);
    if (existing) {
      this.activate(existing);
      return existing;
    }
    if (this.opening.has(path)) return this.opening.get(path);
    const opening = this.load(path).finally(() => this.opening.delete(path));
    this.opening.set(path, opening);
    return opening;
  }

  async load(path) {
    let file;
    try {
      file = await this.files.read(path);
    } catch (error) {
      const reason = error instanceof ApiError && error.code === "binary_file" ? `${path} is a binary file and cannot be edited here. Use Download in the file menu.` : `Could not open ${path}: ${errorMessage(error)}`;
      notify(reason, { kind: "error" });
      this.output.error(reason);
      return null;
    }
    if (this.find(path)) return this.activate(this.find(path));
    const policy = this.policyFor(file);
    if (policy.note) this.output.log(`${path}: ${policy.note}`);
    const tab = new Tab(path, this.createModel(path, file.content, policy), file.etag, policy);
    tab.element = this.buildTabElement(tab);
    this.tabs.push(tab);
    this.tabBar.append(tab.element);
    this.relabelTabs();
    this.activate(tab);
    return tab;
  }

  buildTabElement(tab) {
    const element = h(
      "div",
      {
        class: "editor-tab",
        role: "tab",
        tabindex: "-1",
        "aria-selected": "false",
        dataset: { testid: "editor-tab", path: tab.path, dirty: "false" },
        title: tab.path,
      },
      h("span", { class: "tab-label" }),
      h("span", { class: "tab-hint" }),
      h("span", { class: "tab-dirty", "aria-label": "unsaved changes", title: "Unsaved changes" }, "●"),
      h("button", { type: "button", class: "tab-close", "aria-label": `Close ${baseName(tab.path)}`, title: "Close", dataset: { testid: "editor-tab-close" } }, "×"),
    );
    element.addEventListener("click", (event) => {
      if (event.target.closest(".tab-close")) this.close(tab);
      else this.activate(tab);
    });
    // Middle click closes, as in browsers and other editors.
    element.addEventListener("auxclick", (event) => {
      if (event.button === 1) {
        event.preventDefault();
        this.close(tab);
      }
    });
    return element;
  }

  /** Tabs show the file name; files with the same name also show their folder. */
  relabelTabs() {
    const counts = new Map();
    for (const tab of this.tabs) counts.set(baseName(tab.path), (counts.get(baseName(tab.path)) || 0) + 1);
    for (const tab of this.tabs) {
      const name = baseName(tab.path);
      tab.element.dataset.path = tab.path;
      tab.element.title = tab.path;
      tab.element.querySelector(".tab-label").textContent = name;
      tab.element.querySelector(".tab-hint").textContent = counts.get(name) > 1 ? parentPath(tab.path) || "/" : "";
      tab.element.querySelector(".tab-close").setAttribute("aria-label", `Close ${name}`);
    }
  }

  activate(tab) {
    if (this.compare.isOpen && this.compare.tab !== tab) this.compare.close();
    if (this.active && this.active !== tab) this.active.viewState = this.editor.saveViewState();
    this.active = tab;
    this.emptyState.hidden = true;
    this.editorHost.hidden = this.compare.isOpen;
    this.editor.setModel(tab.model);
    this.editor.updateOptions(this.readOnlyOptions(tab));
    if (tab.viewState) this.editor.restoreViewState(tab.viewState);
    for (const other of this.tabs) {
      other.element.setAttribute("aria-selected", String(other === tab));
      other.element.classList.toggle("active", other === tab);
    }
    tab.element.scrollIntoView({ block: "nearest", inline: "nearest" });
    this.status.setLanguage(tab.model.getLanguageId());
    this.status.setPosition(this.editor.getPosition());
    this.status.setNote(tab.policy.note);
    this.refreshTab(tab);
    if (!this.compare.isOpen) this.editor.focus();
    return tab;
  }

  readOnlyOptions(tab) {
    if (!this.canEdit) return { readOnly: true, readOnlyMessage: { value: "You have view-only access to this workspace." } };
    if (!tab.policy.editable) {
      return { readOnly: true, readOnlyMessage: { value: "This file is too large to edit here; it is open read-only." } };
    }
    return { readOnly: false };
  }

  showEmptyState() {
    this.active = null;
    this.editor.setModel(null);
    this.status.setNote("");
    this.emptyState.hidden = false;
    this.conflictBar.hide();
    this.status.setSaveState("none");
    this.status.setLanguage("");
    this.status.setPosition(null);
  }

  /** Closes a tab, asking first if it has unsaved changes. Resolves true if closed. */
  async close(tab) {
    if (tab.dirty && this.canEdit) {
      const choice = await choiceDialog({
        title: `Save changes to ${baseName(tab.path)}?`,
        message: "Your changes will be lost if you don't save them.",
        choices: [
          { value: "cancel", label: "Cancel", testid: "close-cancel" },
          { value: "discard", label: "Don't save", testid: "close-discard", kind: "danger" },
          { value: "save", label: "Save", testid: "close-save", kind: "primary" },
        ],
      });
      if (choice === null || choice === "cancel") return false;
      if (choice === "save") {
        await this.save(tab);
        if (tab.dirty) return false; // the save failed or hit a conflict: keep the tab
      }
    }
    this.discard(tab);
    return true;
  }

  /** Removes a tab without asking. */
  discard(tab) {
    const index = this.tabs.indexOf(tab);
    if (index === -1) return;
    if (this.compare.tab === tab) this.compare.close();
    this.tabs.splice(index, 1);
    tab.element.remove();
    tab.model.dispose();
    this.relabelTabs();
    if (this.active === tab) {
      const next = this.tabs[index] || this.tabs[index - 1];
      if (next) this.activate(next);
      else this.showEmptyState();
    }
  }

  // ---- saving ----------------------------------------------------------

  /** Reflects a tab's state in its tab element, the status bar and the conflict bar. */
  refreshTab(tab) {
    tab.element.dataset.dirty = String(tab.dirty);
    tab.element.classList.toggle("dirty", tab.dirty);
    tab.element.classList.toggle("conflict", Boolean(tab.conflict));
    if (tab !== this.active) return;
    if (tab.conflict) this.conflictBar.show(tab.conflict);
    else this.conflictBar.hide();
    if (!this.canEdit || !tab.policy.editable) this.status.setSaveState("readonly");
    else if (tab.saving) this.status.setSaveState("saving");
    else if (tab.conflict) this.status.setSaveState("conflict");
    else if (tab.saveError && tab.dirty) this.status.setSaveState("error", `Save failed: ${tab.saveError}`);
    else if (tab.dirty) this.status.setSaveState("dirty");
    else this.status.setSaveState("saved");
  }

  saveActive() {
    if (this.active) return this.save(this.active);
    return Promise.resolve();
  }

  /**
   * Saves a tab's text. `etag` overrides the tab's etag (used to overwrite
   * after a conflict). A save requested while one is running runs after it,
   * so the last keystrokes before Ctrl+S are never lost.
   */
  async save(tab, { etag = tab.etag } = {}) {
    if (!this.canEdit || !tab.policy.editable) return;
    if (tab.saving) {
      tab.saveAgain = true;
      return tab.saving;
    }
    const content = tab.model.getValue();
    const version = tab.model.getAlternativeVersionId();
    tab.saveError = null;
    tab.saving = this.files.write(tab.path, content, etag);
    this.refreshTab(tab);
    try {
      const result = await tab.saving;
      tab.etag = result.etag;
      // Text typed while the request was in flight stays dirty.
      tab.savedVersion = version;
      tab.conflict = null;
      this.output.log(`Saved ${tab.path}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === "conflict") {
        tab.conflict = { currentEtag: error.details.current_etag ?? null };
        this.output.error(`Not saved: ${tab.path} changed on disk since it was opened.`);
      } else {
        tab.saveError = errorMessage(error);
        notifyError(error, `Could not save ${tab.path}`);
        this.output.error(`Saving ${tab.path} failed: ${tab.saveError}`);
      }
    } finally {
      tab.saving = null;
      if (this.tabs.includes(tab)) this.refreshTab(tab);
    }
    if (tab.saveAgain) {
      tab.saveAgain = false;
      if (tab.dirty && !tab.conflict && !tab.saveError && this.tabs.includes(tab)) await this.save(tab);
    }
  }

  // ---- conflicts -------------------------------------------------------

  /** Conflict action: throw away the editor's text and load the file again. */
  async reloadFromDisk(tab) {
    if (!tab) return;
    let file;
    try {
      file = await this.files.read(tab.path);
    } catch (error) {
      notifyError(error, `Could not reload ${tab.path}`);
      return;
    }
    this.replaceContent(tab, file);
    this.output.log(`Reloaded ${tab.path} from disk`);
    // The bar's button that had focus is gone; typing goes on in the editor.
    if (tab === this.active) this.editor.focus();
  }

  /** Puts `file` (as the files API reads it) in the tab as its saved text, keeping the view where it was. */
  replaceContent(tab, file) {
    if (this.compare.tab === tab) this.compare.close();
    const viewState = tab === this.active ? this.editor.saveViewState() : null;
    // An edit rather than setValue() keeps the user's text one Ctrl+Z away:
    // "discard mine" should not be irreversible.
    tab.model.pushStackElement();
    tab.model.pushEditOperations([], [{ range: tab.model.getFullModelRange(), text: file.content }], () => null);
    tab.model.pushStackElement();
    if (viewState) this.editor.restoreViewState(viewState);
    tab.etag = file.etag;
    tab.savedVersion = tab.model.getAlternativeVersionId();
    tab.conflict = null;
    tab.saveError = null;
    this.refreshTab(tab);
  }

  /** Conflict action: replace the file on disk with the editor's text. */
  async overwrite(tab) {
    if (!tab || !tab.conflict) return;
    await this.save(tab, { etag: tab.conflict.currentEtag });
    if (!tab.conflict && this.compare.tab === tab) this.compare.close();
    if (!tab.conflict && tab === this.active) this.editor.focus();
  }

  /** Conflict action: a diff of the file on disk (left) against the editor's text (right). */
  async showCompare(tab) {
    if (!tab || !tab.conflict) return;
    let disk = "";
    let label = "On disk";
    try {
      const file = await this.files.read(tab.path);
      disk = file.content;
      // Overwriting after comparing means "replace what I just looked at".
      tab.conflict.currentEtag = file.etag;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        label = "On disk (deleted)";
        tab.conflict.currentEtag = null;
      } else {
        notifyError(error, `Could not load ${tab.path} for comparison`);
        return;
      }
    }
    this.compare.open({ tab, diskContent: disk, diskLabel: label, languageId: tab.model.getLanguageId() });
  }

  // ---- following the disk (file_events.js) -----------------------------

  /** Changes on disk: open files that changed reload, or show the conflict bar when they hold edits. */
  applyDiskChanges(changes) {
    const touched = new Set();
    for (const { path, change } of changes) {
      for (const tab of this.tabs) {
        if (tab.path === path || (change === "deleted" && isSameOrInside(tab.path, path))) touched.add(tab);
      }
    }
    return Promise.all([...touched].map((tab) => this.checkDisk(tab)));
  }

  /** After a reconnect or a resync: compare every open file with the disk. */
  resync() {
    return Promise.all(this.tabs.map((tab) => this.checkDisk(tab)));
  }

  /** Compares a tab with its file on disk; one comparison at a time per tab, repeated if asked meanwhile. */
  checkDisk(tab) {
    if (tab.checking) {
      tab.checking.again = true;
      return tab.checking.promise;
    }
    const state = { again: true, promise: null };
    state.promise = (async () => {
      try {
        while (state.again && this.tabs.includes(tab)) {
          state.again = false;
          await this.checkDiskOnce(tab);
        }
      } finally {
        tab.checking = null;
      }
    })();
    tab.checking = state;
    return state.promise;
  }

  async checkDiskOnce(tab) {
    // This page's own save changes the disk too: compare with the etag it answers.
    if (tab.saving) await tab.saving.catch(() => null);
    let file;
    try {
      file = await this.files.read(tab.path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.fileGoneFromDisk(tab);
      return; // other failures (too large now, unreachable): the next change or a save says more
    }
    if (!this.tabs.includes(tab) || tab.saving) return;
    if (file.etag === tab.etag) {
      if (tab.conflict) {
        tab.conflict = null; // the disk is back to the text this tab started from
        this.refreshTab(tab);
      }
      return;
    }
    if (file.content === tab.model.getValue()) {
      // The disk now holds exactly this text (saved elsewhere, or the same edit): nothing to choose.
      tab.etag = file.etag;
      tab.savedVersion = tab.model.getAlternativeVersionId();
      tab.conflict = null;
      this.refreshTab(tab);
      return;
    }
    if (!tab.dirty) {
      this.replaceContent(tab, file);
      this.output.log(`${tab.path} changed on disk; reloaded`);
      return;
    }
    tab.conflict = { currentEtag: file.etag };
    this.output.log(`${tab.path} changed on disk while it has unsaved changes`);
    this.refreshTab(tab);
  }

  fileGoneFromDisk(tab) {
    if (!this.tabs.includes(tab)) return;
    if (!tab.dirty) {
      this.output.log(`${tab.path} was deleted on disk; its tab was closed`);
      this.discard(tab);
      return;
    }
    // Saving would fail; Overwrite (etag null) makes the file again from this text.
    tab.conflict = { currentEtag: null, deleted: true };
    this.output.log(`${tab.path} was deleted on disk while it has unsaved changes`);
    this.refreshTab(tab);
  }

  /** Closes every tab without asking (the workspace is gone). */
  discardAll() {
    for (const tab of [...this.tabs]) this.discard(tab);
  }

  // ---- file tree events ------------------------------------------------

  /** A file or directory was renamed/moved: re-point the affected tabs. */
  async pathMoved(from, to) {
    for (const tab of this.tabs.filter((candidate) => isSameOrInside(candidate.path, from))) {
      const wasDirty = tab.dirty;
      const wasActive = tab === this.active;
      if (this.compare.tab === tab) this.compare.close();
      if (wasActive) tab.viewState = this.editor.saveViewState();
      const oldModel = tab.model;
      tab.path = movedPath(tab.path, from, to);
      // Model URIs are immutable, so the text moves into a new model.
      tab.model = this.createModel(tab.path, oldModel.getValue(), tab.policy);
      tab.savedVersion = wasDirty ? NOT_SAVED_YET : tab.model.getAlternativeVersionId();
      if (wasActive) this.editor.setModel(tab.model);
      oldModel.dispose();
      if (wasActive) {
        if (tab.viewState) this.editor.restoreViewState(tab.viewState);
        this.status.setLanguage(tab.model.getLanguageId());
      }
      if (!wasDirty) {
        // Whether a move keeps the etag is the server's business; take the
        // current one. A dirty tab keeps its old etag so that a change made
        // by someone else in the meantime still shows up as a conflict.
        try {
          tab.etag = (await this.files.read(tab.path)).etag;
        } catch {
          // Left as is: a stale etag only leads to a conflict bar on save.
        }
      }
      this.refreshTab(tab);
    }
    this.relabelTabs();
  }

  /** A file or directory was deleted: close its clean tabs, keep dirty ones. */
  pathDeleted(path) {
    for (const tab of this.tabs.filter((candidate) => isSameOrInside(candidate.path, path))) {
      if (tab.dirty) {
        // Unsaved text survives; saving will report that the file is gone.
        notify(`${tab.path} was deleted but has unsaved changes; its tab stays open.`, { kind: "info" });
      } else {
        this.discard(tab);
      }
    }
  }
}
