// The command palette (Ctrl+Shift+P): the IDE's own commands (commands.js)
// and, while a file is open, every action of the Monaco editor (format,
// sort lines, go to symbol, ...), filtered as one types. Monaco's own
// palette (F1) stays available but lists only the editor's actions and only
// while the editor has focus; this one works from anywhere.
import { fuzzyFilter } from "./fuzzy.js";
import { shortcutLabel } from "./commands.js";
import { openQuickPick } from "./quick_pick.js";

export class CommandPalette {
  /**
   * @param {object} options
   * @param {import('./commands.js').Commands} options.commands
   * @param {import('./editor_tabs.js').EditorTabs} options.tabs
   */
  constructor({ commands, tabs }) {
    Object.assign(this, { commands, tabs });
  }

  /** Our commands first, then the editor's (those we do not already list). */
  entries() {
    const ours = this.commands
      .available()
      .filter((command) => !command.hiddenInPalette)
      .map((command) => ({ id: command.id, label: command.label, hint: shortcutLabel([].concat(command.keys || [])[0] || command.hint), run: () => command.run() }));
    if (!this.tabs.active) return ours;
    const known = new Set(ours.map((entry) => entry.id));
    const editor = this.tabs.editor;
    const actions = editor
      .getSupportedActions()
      .filter((action) => !known.has(action.id) && action.label && action.isSupported())
      .sort((a, b) => a.label.localeCompare(b.label))
      .map((action) => ({
        id: action.id,
        label: action.label,
        hint: "",
        run: () => {
          editor.focus();
          action.run();
        },
      }));
    return [...ours, ...actions];
  }

  show() {
    const entries = this.entries();
    openQuickPick({
      testid: "command-palette",
      placeholder: "Type the name of a command to run",
      filter: (query) => ({
        rows: fuzzyFilter(entries, query, (entry) => entry.label).map(({ item, positions }) => ({
          key: item.id,
          label: item.label,
          labelHighlights: positions,
          hint: item.hint,
          data: item,
        })),
      }),
      onAccept: (row) => row.data.run(),
    });
  }
}
