// Tiny DOM helpers. Text is always set through textContent, never innerHTML,
// so names coming from the API (file names, usernames) cannot inject markup.

/**
 * Creates an element: h("button", { class: "btn", dataset: { testid: "x" },
 * onclick: fn }, "Label"). Attributes that are false/null/undefined are
 * skipped; `true` sets a boolean attribute.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") {
      for (const [name, data] of Object.entries(value)) {
        if (data !== undefined && data !== null) element.dataset[name] = String(data);
      }
    } else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      element[key] = value; // properties, so they work after user edits too
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces all children of `element`. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** "2 minutes ago"-style text for an ISO timestamp, or "never". */
export function relativeTime(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const units = [
    ["year", 31536000],
    ["month", 2592000],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return Math.abs(seconds) < 10 ? "just now" : format.format(seconds, "second");
}

/** A <time> element showing relative time with the exact time on hover. */
export function timeElement(iso, fallback = "never") {
  if (!iso) return h("span", { class: "muted" }, fallback);
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toLocaleString() }, relativeTime(iso));
}

/** Human file size: 1536 -> "1.5 KB". */
export function formatSize(bytes) {
  if (bytes == null) return "";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Reads a data-* flag rendered by a template as "true"/"false". */
export function dataFlag(element, name) {
  return element.dataset[name] === "true";
}

/** A 16x16 stroked icon like the template's toolbar icons; `d` is the path data. */
export function icon(d) {
  const namespace = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(namespace, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(namespace, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}
