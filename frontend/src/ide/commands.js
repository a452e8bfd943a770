// The IDE's own commands and their keyboard shortcuts, in one table that the
// command palette lists and one keydown listener dispatches.
//
// The listener runs in the capture phase at the window, before Monaco or
// xterm.js see the key, so a shortcut works wherever the focus is. In a
// terminal every key belongs to the shell except the few commands marked
// `inTerminal` (the pickers, search, Ctrl+` and F6, as in VS Code): they are
// how one gets out of a terminal without a mouse (docs/keyboard.md).
//
// Keys are written "Ctrl+Shift+P"; Ctrl also means Cmd on a Mac. Letters and
// the backquote are read from the physical key (KeyboardEvent.code), so the
// shortcuts sit in the same place on every keyboard layout.

const IS_MAC = /Mac|iPhone|iPad/.test(navigator.platform || "");

/** "Ctrl+Shift+P" for a keydown event, or "" for a bare modifier. */
export function shortcutOf(event) {
  let key;
  if (/^Key[A-Z]$/.test(event.code)) key = event.code.slice(3);
  else if (/^Digit[0-9]$/.test(event.code)) key = event.code.slice(5);
  else if (event.code === "Backquote") key = "`";
  else if (/^F[0-9]{1,2}$/.test(event.key)) key = event.key;
  else if (["Control", "Shift", "Alt", "Meta"].includes(event.key)) return "";
  else key = event.key.length === 1 ? event.key.toUpperCase() : event.key;
  const parts = [];
  if (event.ctrlKey || (IS_MAC && event.metaKey)) parts.push("Ctrl");
  if (event.shiftKey) parts.push("Shift");
  if (event.altKey) parts.push("Alt");
  parts.push(key);
  return parts.join("+");
}

/** How a shortcut is shown to the user ("⌘⇧P" style on a Mac). */
export function shortcutLabel(keys) {
  if (!keys) return "";
  if (!IS_MAC) return keys;
  return keys.replace("Ctrl+", "⌘").replace("Shift+", "⇧").replace("Alt+", "⌥");
}

export class Commands {
  constructor() {
    this.commands = new Map(); // id -> command
    this.byShortcut = new Map(); // "Ctrl+P" -> command
  }

  /**
   * Adds a command: { id, label, run, keys?, hint?, inTerminal?, enabled? }.
   * `keys` are dispatched here; `hint` only shows a shortcut that someone
   * else handles (Ctrl+S, Monaco's own). `enabled()` (default: always)
   * hides it from the palette and turns its keys off.
   */
  register(command) {
    const entry = { enabled: () => true, inTerminal: false, ...command };
    this.commands.set(entry.id, entry);
    for (const keys of [].concat(entry.keys || [])) this.byShortcut.set(keys, entry);
    return entry;
  }

  /** The commands one may run now, in the order they were added. */
  available() {
    return [...this.commands.values()].filter((command) => command.enabled());
  }

  run(id) {
    const command = this.commands.get(id);
    if (command && command.enabled()) command.run();
  }

  /** Listens for the shortcuts on the whole page. */
  listen(target = window) {
    target.addEventListener("keydown", (event) => this.onKeyDown(event), true);
  }

  onKeyDown(event) {
    if (event.repeat && event.code === "Backquote") return; // holding Ctrl+` must not flicker the panel
    const command = this.byShortcut.get(shortcutOf(event));
    if (!command || !command.enabled()) return;
    const target = event.target instanceof Element ? event.target : null;
    // A modal dialog (save changes?, rename) owns the keyboard until it closes.
    if (target && target.closest("dialog[open]")) return;
    if (target && target.closest(".xterm") && !command.inTerminal) return;
    event.preventDefault();
    event.stopPropagation();
    command.run();
  }
}
