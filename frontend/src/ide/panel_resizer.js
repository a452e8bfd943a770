// The splitter above the bottom panel: drag it (or focus it and use the
// arrow keys) to give the terminal more rows. The height is a CSS variable
// on the IDE grid and is remembered per browser; the terminals refit
// themselves through their ResizeObserver.
import { h } from "../lib/dom.js";

const STORAGE_KEY = "devbench.panel-height";
const MIN_HEIGHT = 120;
const KEY_STEP = 24;

export function setupPanelResizer({ grid, panel }) {
  const handle = h("div", {
    class: "panel-resizer",
    role: "separator",
    tabindex: "0",
    "aria-orientation": "horizontal",
    "aria-label": "Resize panel",
    title: "Drag to resize the panel",
  });
  panel.prepend(handle);

  const maxHeight = () => Math.max(MIN_HEIGHT, grid.clientHeight - 120);
  const apply = (height, { save = true } = {}) => {
    const clamped = Math.round(Math.min(maxHeight(), Math.max(MIN_HEIGHT, height)));
    grid.style.setProperty("--panel-height", `${clamped}px`);
    handle.setAttribute("aria-valuenow", String(clamped));
    if (save) {
      try {
        localStorage.setItem(STORAGE_KEY, String(clamped));
      } catch {
        // Storage unavailable: the size just is not remembered.
      }
    }
  };

  try {
    const stored = Number(localStorage.getItem(STORAGE_KEY));
    if (stored) apply(stored, { save: false });
  } catch {
    // Storage unavailable: keep the default height.
  }

  handle.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    handle.setPointerCapture(event.pointerId);
    const startY = event.clientY;
    const startHeight = panel.getBoundingClientRect().height;
    const move = (moveEvent) => apply(startHeight + startY - moveEvent.clientY, { save: false });
    const end = (endEvent) => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", end);
      handle.removeEventListener("pointercancel", end);
      apply(startHeight + startY - endEvent.clientY);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
  });
  handle.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    const height = panel.getBoundingClientRect().height;
    apply(height + (event.key === "ArrowUp" ? KEY_STEP : -KEY_STEP));
  });
}
