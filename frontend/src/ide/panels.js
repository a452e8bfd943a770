// The bottom panel's tabs (Terminal / Output). Later work mounts the
// terminal into #terminal-panel; this only switches which panel is visible.
export function setupPanelTabs(tabList) {
  const tabs = [...tabList.querySelectorAll("[role=tab]")];
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
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
  };
}
