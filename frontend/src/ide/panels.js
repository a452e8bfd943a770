// The bottom panel's tabs (Terminal / Output / Problems), and whether the
// panel shows at all: Ctrl+` hides it to give the editor the room
// (ide_commands.js); showing any of its panels brings it back.
import "./panels.css";

export function setupPanelTabs(tabList, { grid = null } = {}) {
  const tabs = [...tabList.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (grid) grid.classList.remove("panel-hidden");
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const step = event.key === "ArrowRight" ? 1 : -1;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  }
  return {
    show(panelId) {
      const tab = tabs.find((candidate) => candidate.getAttribute("aria-controls") === panelId);
      if (tab) select(tab);
    },
    hide() {
      if (grid) grid.classList.add("panel-hidden");
    },
    get visible() {
      return !grid || !grid.classList.contains("panel-hidden");
    },
    /** The id of the panel whose tab is selected ("terminal-panel", ...). */
    get selected() {
      return tabs.find((tab) => tab.getAttribute("aria-selected") === "true")?.getAttribute("aria-controls") ?? null;
    },
    /** The tab button of a panel. */
    tabOf(panelId) {
      return tabs.find((candidate) => candidate.getAttribute("aria-controls") === panelId) ?? null;
    },
  };
}
