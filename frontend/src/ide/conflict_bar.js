// The bar shown above the editor when a save was refused because the file
// changed on disk (409 "conflict"). It only offers the choices; EditorTabs
// carries them out.
import { h } from "../lib/dom.js";

export class ConflictBar {
  constructor(element, { onReload, onOverwrite, onCompare }) {
    this.element = element;
    const button = (label, testid, handler, kind) =>
      h("button", { type: "button", class: `btn btn-small${kind ? ` btn-${kind}` : ""}`, dataset: { testid }, onclick: handler }, label);
    element.replaceChildren(
      h("span", { class: "conflict-icon", "aria-hidden": "true" }, "⚠"),
      h("span", { class: "conflict-message" }, "This file changed on disk since you opened it."),
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

  show() {
    this.element.hidden = false;
  }

  hide() {
    this.element.hidden = true;
  }
}
