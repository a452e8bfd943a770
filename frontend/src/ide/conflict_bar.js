// The bar shown above the editor when a save was refused because the file
// changed on disk (409 "conflict"), or when the disk changed (or the file was
// deleted) under unsaved edits. It only offers the choices; EditorTabs
// carries them out.
import { h } from "../lib/dom.js";

export class ConflictBar {
  constructor(element, { onReload, onOverwrite, onCompare }) {
    this.element = element;
    const button = (label, testid, handler, kind) =>
      h("button", { type: "button", class: `btn btn-small${kind ? ` btn-${kind}` : ""}`, dataset: { testid }, onclick: handler }, label);
    element.replaceChildren(
      h("span", { class: "conflict-icon", "aria-hidden": "true" }, "⚠"),
      (this.message = h("span", { class: "conflict-message", dataset: { testid: "conflict-message" } })),
      h(
        "span",
        { class: "conflict-actions" },
        button("Reload from disk (discard mine)", "conflict-reload", onReload),
        button("Overwrite", "conflict-overwrite", onOverwrite, "danger"),
        button("Compare", "conflict-compare", onCompare),
      ),
    );
    this.hide();
  }

  /** `conflict.deleted`: the file is gone from disk (Overwrite makes it again). */
  show(conflict = {}) {
    this.message.textContent = conflict.deleted
      ? "This file was deleted on disk; your unsaved text is still here."
      : "This file changed on disk since you opened it.";
    this.element.hidden = false;
  }

  hide() {
    this.element.hidden = true;
  }
}
