// Side-by-side diff of the file on disk (left, read-only) and the editor's
// text (right). The right side is the tab's own model, so edits made while
// comparing are real edits that "Overwrite" then saves.
import { h } from "../lib/dom.js";

export class CompareView {
  constructor({ monaco, host, editorHost, onClose }) {
    Object.assign(this, { monaco, host, editorHost, onClose });
    this.tab = null;
    this.diffEditor = null;
    this.original = null;
    host.hidden = true;
  }

  get isOpen() {
    return this.tab !== null;
  }

  open({ tab, diskContent, diskLabel, languageId }) {
    this.dispose();
    this.tab = tab;
    const container = h("div", { class: "diff-editor" });
    this.host.replaceChildren(
      h(
        "div",
        { class: "diff-header" },
        h("span", { class: "diff-side" }, diskLabel),
        h("span", { class: "diff-side" }, "Your version (editable; use Overwrite to save it)"),
        h("button", { type: "button", class: "btn btn-small", dataset: { testid: "compare-close" }, onclick: () => this.close() }, "Close compare"),
      ),
      container,
    );
    this.host.hidden = false;
    this.editorHost.hidden = true;
    this.original = this.monaco.editor.createModel(diskContent, languageId);
    this.diffEditor = this.monaco.editor.createDiffEditor(container, {
      theme: "vs-dark",
      automaticLayout: true,
      originalEditable: false,
      renderSideBySide: true,
      ignoreTrimWhitespace: false,
      scrollBeyondLastLine: false,
      fontSize: 13,
    });
    this.diffEditor.setModel({ original: this.original, modified: tab.model });
    this.diffEditor.getModifiedEditor().focus();
  }

  dispose() {
    // Disposing the diff editor leaves its models alone: the modified model
    // belongs to the tab, the original is ours to dispose.
    if (this.diffEditor) this.diffEditor.dispose();
    if (this.original) this.original.dispose();
    this.diffEditor = null;
    this.original = null;
    this.tab = null;
  }

  close() {
    if (!this.isOpen) return;
    this.dispose();
    this.host.replaceChildren();
    this.host.hidden = true;
    this.editorHost.hidden = false;
    this.onClose();
  }
}
