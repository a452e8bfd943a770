// The IDE's commands (the palette lists them; the keys are in
// docs/keyboard.md): pickers, search, the terminal toggle, formatting,
// moving the focus between the side bar, the editor and the bottom panel.
//
// Getting out of a terminal with the keyboard: xterm.js takes every key, so
// the few that must leave it are caught before it sees them (commands.js):
// Ctrl+` hides the panel and returns to the editor, F6 / Shift+F6 move the
// focus to the next / previous part and leave the terminal where it is.
import { notify } from "../lib/dialogs.js";
import { CommandPalette } from "./command_palette.js";
import { Commands } from "./commands.js";
import { QuickOpen } from "./quick_open.js";

const FORMAT_ACTION = "editor.action.formatDocument";

/**
 * Registers the commands and starts listening for their keys.
 *
 * @returns {Commands}
 */
export function setupIdeCommands({ tabs, files, panels, terminals, sidebar, search, problems, tree, canEdit }) {
  const commands = new Commands();
  const quickOpen = new QuickOpen({ files, tabs });
  const palette = new CommandPalette({ commands, tabs });

  const focusEditor = () => {
    if (!tabs.active) return false;
    tabs.editor.focus();
    return true;
  };
  const focusPanel = () => {
    const selected = panels.selected;
    panels.show(selected);
    if (selected === "terminal-panel" && terminals.active) {
      terminals.focus();
      return true;
    }
    if (selected === "problems-panel" && problems.focus()) return true;
    panels.tabOf(selected)?.focus();
    return true;
  };
  const focusSidebar = () => {
    sidebar.show(sidebar.active, { focus: true });
    return true;
  };
  // F6 order: side bar, editor, panel (an empty editor area is skipped).
  const parts = [
    { selector: ".ide-sidebar", focus: focusSidebar },
    { selector: ".ide-main", focus: focusEditor },
    { selector: ".ide-panel", focus: focusPanel },
  ];
  const focusPart = (step) => {
    const active = document.activeElement;
    const current = parts.findIndex((part) => active instanceof Element && active.closest(part.selector));
    for (let offset = 1; offset <= parts.length; offset += 1) {
      const index = (((current === -1 ? (step > 0 ? -1 : 0) : current) + step * offset) % parts.length + parts.length) % parts.length;
      if (parts[index].focus()) return;
    }
  };

  const toggleTerminal = () => {
    const active = document.activeElement;
    if (panels.visible && active instanceof Element && active.closest("#terminal-panel")) {
      panels.hide();
      if (!focusEditor()) focusSidebar();
      return;
    }
    panels.show("terminal-panel");
    if (!terminals.active && canEdit) terminals.open(terminals.unusedName(), { focus: true });
    terminals.focus();
  };

  const formatDocument = () => {
    if (!tabs.active) return;
    const action = tabs.editor.getAction(FORMAT_ACTION);
    if (!canEdit) {
      notify("You have view-only access: files cannot be formatted.", { kind: "info" });
      return;
    }
    if (!action || !action.isSupported()) {
      notify(`No formatter for ${tabs.active.path} (Python files are formatted by ruff once its language server is ready).`, { kind: "info" });
      return;
    }
    tabs.editor.focus();
    action.run();
  };

  const findInFiles = () => {
    // A one-line selection in the editor is what one wants to find, as in VS Code.
    const selection = tabs.active ? tabs.editor.getModel()?.getValueInRange(tabs.editor.getSelection()) : "";
    sidebar.show("search", { focus: false });
    search.focus({ query: selection && !selection.includes("\n") ? selection : undefined });
  };

  commands.register({ id: "workbench.quickOpen", label: "Go to File…", keys: "Ctrl+P", inTerminal: true, run: () => quickOpen.show() });
  commands.register({ id: "workbench.commandPalette", label: "Show All Commands", keys: ["Ctrl+Shift+P", "F1"], inTerminal: true, hiddenInPalette: true, run: () => palette.show() });
  commands.register({ id: "workbench.findInFiles", label: "Search: Find in Files", keys: "Ctrl+Shift+F", inTerminal: true, run: findInFiles });
  commands.register({ id: "terminal.toggle", label: "Terminal: Toggle Terminal", keys: "Ctrl+`", inTerminal: true, run: toggleTerminal });
  commands.register({
    id: "terminal.new",
    label: "Terminal: New Terminal",
    enabled: () => canEdit,
    run: () => {
      panels.show("terminal-panel");
      terminals.open(terminals.unusedName(), { focus: true });
    },
  });
  commands.register({ id: FORMAT_ACTION, label: "Format Document", keys: "Shift+Alt+F", enabled: () => Boolean(tabs.active), run: formatDocument });
  commands.register({ id: "file.save", label: "File: Save", hint: "Ctrl+S", enabled: () => canEdit && Boolean(tabs.active), run: () => tabs.saveActive() });
  commands.register({ id: "workbench.focusNextPart", label: "View: Focus Next Part", keys: "F6", inTerminal: true, run: () => focusPart(1) });
  commands.register({ id: "workbench.focusPreviousPart", label: "View: Focus Previous Part", keys: "Shift+F6", inTerminal: true, run: () => focusPart(-1) });
  commands.register({ id: "workbench.showExplorer", label: "View: Show Explorer", keys: "Ctrl+Shift+E", run: () => sidebar.show("explorer") });
  commands.register({ id: "workbench.showSearch", label: "View: Show Search", run: () => sidebar.show("search") });
  commands.register({ id: "workbench.showProblems", label: "View: Show Problems", keys: "Ctrl+Shift+M", run: () => { panels.show("problems-panel"); problems.focus(); } });
  commands.register({ id: "workbench.showOutput", label: "View: Show Output", run: () => panels.show("output-panel") });
  commands.register({ id: "workbench.togglePanel", label: "View: Toggle Panel", keys: "Ctrl+J", run: () => (panels.visible ? panels.hide() : focusPanel()) });
  commands.register({ id: "explorer.refresh", label: "Explorer: Refresh", run: () => tree.refresh() });
  commands.register({ id: "editor.focus", label: "View: Focus Editor", run: focusEditor });
  commands.listen();
  return commands;
}
