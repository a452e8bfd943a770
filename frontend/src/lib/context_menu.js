// A small right-click menu. Items are [{ label, testid, action, danger }]
// (null entries become separators). Only one menu is open at a time; it
// closes on Escape, on a click elsewhere, on scroll and on window blur.
import { h } from "./dom.js";

let openMenu = null;

export function closeContextMenu() {
  if (!openMenu) return;
  const { element, cleanup, returnFocus } = openMenu;
  openMenu = null;
  cleanup();
  element.remove();
  if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
}

export function openContextMenu({ x, y, items, returnFocus }) {
  closeContextMenu();
  const buttons = [];
  const element = h(
    "div",
    { class: "context-menu", role: "menu", dataset: { testid: "context-menu" } },
    items.map((item) => {
      if (!item) return h("div", { class: "context-menu-separator", role: "separator" });
      const button = h(
        "button",
        {
          type: "button",
          role: "menuitem",
          class: item.danger ? "context-menu-item danger" : "context-menu-item",
          dataset: { testid: item.testid },
          tabindex: "-1",
          onclick: () => {
            closeContextMenu();
            item.action();
          },
        },
        item.label,
      );
      buttons.push(button);
      return button;
    }),
  );
  document.body.append(element);

  // Keep the menu inside the viewport.
  const { width, height } = element.getBoundingClientRect();
  element.style.left = `${Math.max(0, Math.min(x, window.innerWidth - width - 4))}px`;
  element.style.top = `${Math.max(0, Math.min(y, window.innerHeight - height - 4))}px`;

  const onPointerDown = (event) => {
    if (!element.contains(event.target)) closeContextMenu();
  };
  const onKeyDown = (event) => {
    const index = buttons.indexOf(document.activeElement);
    if (event.key === "Escape") {
      event.preventDefault();
      closeContextMenu();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      buttons[(index + step + buttons.length) % buttons.length].focus();
    }
  };
  const onDismiss = () => closeContextMenu();
  document.addEventListener("pointerdown", onPointerDown, true);
  document.addEventListener("keydown", onKeyDown, true);
  window.addEventListener("blur", onDismiss);
  window.addEventListener("resize", onDismiss);
  document.addEventListener("scroll", onDismiss, true);
  openMenu = {
    element,
    returnFocus,
    cleanup() {
      document.removeEventListener("pointerdown", onPointerDown, true);
      document.removeEventListener("keydown", onKeyDown, true);
      window.removeEventListener("blur", onDismiss);
      window.removeEventListener("resize", onDismiss);
      document.removeEventListener("scroll", onDismiss, true);
    },
  };
  if (buttons[0]) buttons[0].focus();
}
