// The picker at the top of the IDE that quick open (Ctrl+P) and the command
// palette (Ctrl+Shift+P) share: a text field over a list filtered as one
// types. Up/Down (and PageUp/PageDown) move the selection, Enter accepts,
// Escape or a click elsewhere closes it and gives focus back to where it was.
// One picker is open at a time; opening another replaces it.
//
// The list shows at most MAX_SHOWN rows (a note says how many more match):
// more rows than fit on a screen would not help anyone choose, and keeping
// the DOM small keeps every keystroke cheap.
import { h } from "../lib/dom.js";
import "./quick_pick.css";

const MAX_SHOWN = 200;
const PAGE = 10;

let current = null;

/**
 * Opens the picker.
 *
 * @param {object} options
 * @param {string} options.testid        data-testid of the picker ("quick-open", "command-palette")
 * @param {string} options.placeholder
 * @param {string} [options.value]       initial text
 * @param {(query: string) => {rows: Row[], note?: string}} options.filter
 *        the rows for a query; Row = { key, label, labelHighlights?, description?,
 *        descriptionHighlights?, hint?, data }
 * @param {(row: Row, query: string) => void} options.onAccept
 * @returns {{ refresh(): void, close(): void, setNote(text: string): void, readonly element: HTMLElement }}
 */
export function openQuickPick({ testid, placeholder, value = "", filter, onAccept }) {
  // Replacing an open picker keeps the focus it would have given back.
  const returnFocus = current ? current.returnFocus : document.activeElement;
  closeQuickPick({ restoreFocus: false });
  const listId = `${testid}-list`;
  const input = h("input", {
    type: "text",
    class: "quick-pick-input",
    placeholder,
    value,
    spellcheck: "false",
    autocomplete: "off",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": listId,
    "aria-autocomplete": "list",
    dataset: { testid: "quick-pick-input" },
  });
  const note = h("div", { class: "quick-pick-note", hidden: true, dataset: { testid: "quick-pick-note" } });
  const list = h("ul", { class: "quick-pick-list", id: listId, role: "listbox", dataset: { testid: "quick-pick-list" } });
  const element = h("div", { class: "quick-pick", role: "dialog", "aria-label": placeholder, dataset: { testid } }, input, note, list);
  document.body.append(element);

  let rows = [];
  let selected = 0;
  let extraNote = "";
  let filterNote = "";

  const showNote = () => {
    const text = [filterNote, extraNote].filter(Boolean).join(" · ");
    note.textContent = text;
    note.hidden = !text;
  };

  const select = (index) => {
    if (!rows.length) return;
    selected = Math.max(0, Math.min(rows.length - 1, index));
    for (const [position, item] of [...list.children].entries()) {
      const isSelected = position === selected;
      item.setAttribute("aria-selected", String(isSelected));
      item.classList.toggle("selected", isSelected);
      if (isSelected) {
        input.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({ block: "nearest" });
      }
    }
  };

  const render = () => {
    const result = filter(input.value);
    const all = result.rows;
    rows = all.slice(0, MAX_SHOWN);
    const more = all.length > rows.length ? `${all.length - rows.length} more match; type more to narrow` : "";
    filterNote = [result.note, more].filter(Boolean).join(" · ");
    list.replaceChildren(
      ...rows.map((row, index) =>
        h(
          "li",
          {
            id: `${testid}-row-${index}`,
            class: "quick-pick-row",
            role: "option",
            "aria-selected": "false",
            dataset: { testid: "quick-pick-item", key: row.key },
            onmousedown: (event) => event.preventDefault(), // keep focus in the field
            onclick: () => accept(index),
          },
          h("span", { class: "quick-pick-label" }, highlighted(row.label, row.labelHighlights)),
          row.description ? h("span", { class: "quick-pick-description" }, highlighted(row.description, row.descriptionHighlights)) : null,
          row.hint ? h("kbd", { class: "quick-pick-hint" }, row.hint) : null,
        ),
      ),
    );
    if (!rows.length) list.append(h("li", { class: "quick-pick-empty", role: "none", dataset: { testid: "quick-pick-empty" } }, "No matches"));
    showNote();
    selected = 0;
    select(0);
  };

  const accept = (index) => {
    const row = rows[index];
    if (!row) return;
    const query = input.value;
    // Focus goes back first: what is accepted may move it (open a file) or
    // depend on it (toggle the terminal from the terminal).
    closeQuickPick();
    onAccept(row, query);
  };

  input.addEventListener("input", render);
  input.addEventListener("keydown", (event) => {
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: PAGE, PageUp: -PAGE };
    if (event.key in moves) {
      event.preventDefault();
      select(selected + moves[event.key]);
    } else if (event.key === "Enter") {
      event.preventDefault();
      accept(selected);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeQuickPick();
    } else if (event.key === "Tab") {
      event.preventDefault(); // focus stays in the picker, as in a modal
    }
  });
  const onPointerDown = (event) => {
    if (!element.contains(event.target)) closeQuickPick({ restoreFocus: false });
  };
  document.addEventListener("pointerdown", onPointerDown, true);

  current = {
    element,
    returnFocus,
    cleanup: () => document.removeEventListener("pointerdown", onPointerDown, true),
  };
  render();
  input.focus();
  input.select();
  return {
    element,
    refresh: () => {
      if (current?.element === element) {
        const keep = rows[selected]?.key;
        render();
        const index = rows.findIndex((row) => row.key === keep);
        if (index > 0) select(index);
      }
    },
    setNote: (text) => {
      extraNote = text || "";
      showNote();
    },
    close: () => current?.element === element && closeQuickPick(),
  };
}

/** Closes the open picker, if any; by default focus goes back to where it was before. */
export function closeQuickPick({ restoreFocus = true } = {}) {
  if (!current) return;
  const { element, cleanup, returnFocus } = current;
  current = null;
  cleanup();
  element.remove();
  if (restoreFocus && returnFocus && document.contains(returnFocus)) returnFocus.focus();
}

/** Text with the characters at `positions` wrapped in <mark> (built as nodes, never as HTML). */
export function highlighted(text, positions = []) {
  if (!positions || !positions.length) return text;
  const marks = new Set(positions);
  const parts = [];
  let run = "";
  let inMark = false;
  for (let index = 0; index <= text.length; index += 1) {
    const isMark = marks.has(index);
    if (index === text.length || isMark !== inMark) {
      if (run) parts.push(inMark ? h("mark", {}, run) : run);
      run = "";
      inMark = isMark;
    }
    if (index < text.length) run += text[index];
  }
  return parts;
}
