// The Problems panel and the counts in the status bar: every diagnostic the
// language servers (pyright, ruff) reported for the open files, as Monaco
// markers (owners "lsp:<server>", lsp_client.js), grouped by file, errors
// first. Clicking one (or Enter on it) opens the file at the problem.
//
// Hints (faded unused code) are left out, as in VS Code: they are not
// problems to fix. Markers change in bursts (a server republishes a file's
// diagnostics on every edit), so the panel redraws at most once per
// REDRAW_DELAY_MS.
import { h } from "../lib/dom.js";
import { monaco } from "./monaco.js";
import "./problems_panel.css";

const WORKSPACE_PREFIX = "/workspace/";
const REDRAW_DELAY_MS = 60;
const MAX_SHOWN = 1000;

const SEVERITIES = [
  { value: monaco.MarkerSeverity.Error, name: "error", icon: "⊗" },
  { value: monaco.MarkerSeverity.Warning, name: "warning", icon: "⚠" },
  { value: monaco.MarkerSeverity.Info, name: "info", icon: "ⓘ" },
];

function severityOf(marker) {
  return SEVERITIES.find((severity) => severity.value === marker.severity) || null;
}

function codeText(code) {
  if (code === undefined || code === null || code === "") return "";
  return typeof code === "object" ? String(code.value) : String(code);
}

export class ProblemsPanel {
  /**
   * @param {object} options
   * @param {HTMLElement} options.element   the panel body (#problems-panel)
   * @param {HTMLElement} [options.tabCount] where the panel tab shows the count
   * @param {import('./status_bar.js').StatusBar} options.status
   * @param {import('./editor_tabs.js').EditorTabs} options.tabs
   */
  constructor({ element, tabCount, status, tabs }) {
    Object.assign(this, { element, tabCount, status, tabs });
    this.timer = null;
    this.list = h("ul", { class: "problems-list", role: "tree", "aria-label": "Problems", dataset: { testid: "problems-list" } });
    this.empty = h("p", { class: "panel-placeholder", dataset: { testid: "problems-empty" } }, "No problems have been detected in the open files.");
    element.classList.add("problems-panel");
    element.replaceChildren(this.empty, this.list);
    element.addEventListener("click", (event) => {
      const row = event.target.closest("[data-testid=problem]");
      if (row) this.openProblem(row);
    });
    element.addEventListener("keydown", (event) => this.onKeyDown(event));
    monaco.editor.onDidChangeMarkers(() => this.schedule());
    this.render();
  }

  schedule() {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.render();
    }, REDRAW_DELAY_MS);
  }

  /** The language servers' problems: { path: [marker] } sorted, and the counts. */
  collect() {
    const byPath = new Map();
    const counts = { error: 0, warning: 0, info: 0 };
    for (const marker of monaco.editor.getModelMarkers({})) {
      const severity = severityOf(marker);
      if (!severity || !marker.owner.startsWith("lsp:")) continue;
      if (marker.resource.scheme !== "file" || !marker.resource.path.startsWith(WORKSPACE_PREFIX)) continue;
      const path = marker.resource.path.slice(WORKSPACE_PREFIX.length);
      if (!byPath.has(path)) byPath.set(path, []);
      byPath.get(path).push({ ...marker, severityName: severity.name, icon: severity.icon });
      counts[severity.name] += 1;
    }
    for (const markers of byPath.values()) {
      markers.sort((a, b) => b.severity - a.severity || a.startLineNumber - b.startLineNumber || a.startColumn - b.startColumn);
    }
    return { groups: [...byPath.entries()].sort(([a], [b]) => a.localeCompare(b)), counts };
  }

  render() {
    const { groups, counts } = this.collect();
    this.status.setProblems(counts);
    const total = counts.error + counts.warning + counts.info;
    if (this.tabCount) {
      this.tabCount.textContent = String(total);
      this.tabCount.hidden = total === 0;
    }
    this.element.dataset.errors = String(counts.error);
    this.element.dataset.warnings = String(counts.warning);
    this.empty.hidden = total > 0;
    let shown = 0;
    const items = [];
    for (const [path, markers] of groups) {
      if (shown >= MAX_SHOWN) break;
      const rows = markers.slice(0, MAX_SHOWN - shown).map((marker) => this.buildRow(path, marker));
      shown += rows.length;
      items.push(
        h(
          "li",
          { class: "problems-file", role: "treeitem", "aria-expanded": "true", dataset: { testid: "problem-file", path } },
          h("div", { class: "problems-file-header" }, h("span", { class: "problems-file-name" }, path), h("span", { class: "problems-file-count" }, String(markers.length))),
          h("ul", { class: "problems-rows", role: "group" }, rows),
        ),
      );
    }
    if (shown < total) items.push(h("li", { class: "problems-more", role: "none" }, `${total - shown} more not shown`));
    this.list.replaceChildren(...items);
  }

  buildRow(path, marker) {
    const code = codeText(marker.code);
    const source = [marker.source, code ? `(${code})` : ""].filter(Boolean).join(" ");
    return h(
      "li",
      {
        class: `problem problem-${marker.severityName}`,
        role: "treeitem",
        tabindex: "-1",
        dataset: {
          testid: "problem",
          severity: marker.severityName,
          path,
          line: marker.startLineNumber,
          column: marker.startColumn,
          endLine: marker.endLineNumber,
          endColumn: marker.endColumn,
        },
      },
      h("span", { class: "problem-icon", "aria-label": marker.severityName }, marker.icon),
      // Messages may span lines (pyright explains a type error below it): one line here, all of it on hover.
      h("span", { class: "problem-message", title: marker.message }, marker.message.replace(/\s*\n\s*/g, " ")),
      source ? h("span", { class: "problem-source" }, source) : null,
      h("span", { class: "problem-position" }, `[Ln ${marker.startLineNumber}, Col ${marker.startColumn}]`),
    );
  }

  onKeyDown(event) {
    const rows = [...this.list.querySelectorAll("[data-testid=problem]")];
    const index = rows.indexOf(document.activeElement);
    if (event.key === "Enter" && index !== -1) {
      event.preventDefault();
      this.openProblem(rows[index]);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!rows.length) return;
      event.preventDefault();
      const next = index === -1 ? 0 : index + (event.key === "ArrowDown" ? 1 : -1);
      rows[Math.max(0, Math.min(rows.length - 1, next))].focus();
    }
  }

  /** Puts the focus on the first problem, if there is one. */
  focus() {
    const first = this.list.querySelector("[data-testid=problem]");
    if (first) first.focus();
    return Boolean(first);
  }

  async openProblem(row) {
    const { path, line, column, endLine, endColumn } = row.dataset;
    const tab = await this.tabs.open(path);
    if (!tab) return;
    const range = { startLineNumber: Number(line), startColumn: Number(column), endLineNumber: Number(endLine), endColumn: Number(endColumn) };
    this.tabs.editor.setSelection(range);
    this.tabs.editor.revealRangeInCenterIfOutsideViewport(range);
    this.tabs.editor.focus();
  }
}
