// Search across files (Ctrl+Shift+F), a view of the side bar: a query, the
// toggles "match case" and "regular expression", an optional folder, and the
// matches grouped by file. Clicking a match (or Enter on it) opens the file
// with the match selected.
//
// Modes: where results come from is a "search mode". The built-in one,
// "Text", searches the files with ripgrep on the server (docs/api.md, "Quick
// open and search"). Another source (a semantic search over an index) adds
// itself with addMode(); a mode switch appears as soon as there are two.
// Every mode answers in the shape of the files/search/ endpoint:
//   { files: [{ path, matches: [{ line, column, end_column, before, match, after }] }],
//     match_count, file_count, truncated, timed_out }
import { errorMessage } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { baseName, parentPath } from "./paths.js";
import "./search_panel.css";

const DEBOUNCE_MS = 250;

export class SearchPanel {
  /**
   * @param {object} options
   * @param {object} options.files   filesApi(workspaceId)
   * @param {import('./editor_tabs.js').EditorTabs} options.tabs
   */
  constructor({ files, tabs }) {
    Object.assign(this, { files, tabs });
    this.modes = [];
    this.controller = null; // AbortController of the search in flight
    this.timer = null;
    this.lastRun = "";
    this.build();
    this.addMode({
      id: "text",
      label: "Text",
      options: ["matchCase", "regex"],
      run: ({ query, matchCase, regex, path }, { signal }) => this.files.search({ q: query, matchCase, regex, path }, { signal }),
    });
  }

  /**
   * Adds a source of results: { id, label, options: ["matchCase", "regex"]
   * (the toggles it understands), run({ query, matchCase, regex, path },
   * { signal }) -> Promise<results> }.
   */
  addMode(mode) {
    this.modes.push(mode);
    this.modeSelect.append(h("option", { value: mode.id }, mode.label));
    this.modeSelect.hidden = this.modes.length < 2;
    this.applyModeOptions();
  }

  get mode() {
    return this.modes.find((mode) => mode.id === this.modeSelect.value) || this.modes[0];
  }

  build() {
    const toggle = (testid, text, title) =>
      h("button", { type: "button", class: "search-toggle", "aria-pressed": "false", title, "aria-label": title, dataset: { testid } }, text);
    this.caseToggle = toggle("search-case", "Aa", "Match case (Alt+C)");
    this.regexToggle = toggle("search-regex", ".*", "Use regular expression (Alt+R)");
    this.modeSelect = h("select", { class: "search-mode", "aria-label": "Search mode", hidden: true, dataset: { testid: "search-mode" } });
    this.input = h("input", {
      type: "text",
      class: "search-input",
      placeholder: "Search",
      "aria-label": "Search across files",
      spellcheck: "false",
      autocomplete: "off",
      dataset: { testid: "search-input" },
    });
    this.pathInput = h("input", {
      type: "text",
      class: "search-path",
      placeholder: "In folder (e.g. src), empty for everything",
      "aria-label": "Folder or file to search in",
      spellcheck: "false",
      autocomplete: "off",
      dataset: { testid: "search-path" },
    });
    this.summary = h("div", { class: "search-summary", role: "status", "aria-live": "polite", dataset: { testid: "search-summary" } });
    this.error = h("div", { class: "search-error", role: "alert", hidden: true, dataset: { testid: "search-error" } });
    this.results = h("ul", { class: "search-results", role: "tree", "aria-label": "Search results", dataset: { testid: "search-results" } });
    this.element = h(
      "div",
      { class: "search-view", dataset: { testid: "search-view" }, hidden: true },
      h("div", { class: "sidebar-header" }, h("span", { class: "sidebar-title" }, "Search"), this.modeSelect),
      h("div", { class: "search-form" }, h("div", { class: "search-query" }, this.input, this.caseToggle, this.regexToggle), this.pathInput),
      this.summary,
      this.error,
      this.results,
    );

    for (const button of [this.caseToggle, this.regexToggle]) {
      button.addEventListener("click", () => {
        button.setAttribute("aria-pressed", String(button.getAttribute("aria-pressed") !== "true"));
        this.runNow();
      });
    }
    this.modeSelect.addEventListener("change", () => {
      this.applyModeOptions();
      this.runNow();
    });
    for (const field of [this.input, this.pathInput]) {
      field.addEventListener("input", () => this.schedule());
      field.addEventListener("keydown", (event) => this.onFieldKeyDown(event));
    }
    this.results.addEventListener("click", (event) => {
      const row = event.target.closest("[data-testid=search-result]");
      if (row) this.openResult(row);
      const header = event.target.closest(".search-file-header");
      if (header) this.toggleGroup(header.parentElement);
    });
    this.results.addEventListener("keydown", (event) => this.onResultsKeyDown(event));
  }

  applyModeOptions() {
    const options = new Set(this.mode?.options || []);
    this.caseToggle.hidden = !options.has("matchCase");
    this.regexToggle.hidden = !options.has("regex");
  }

  /** Puts the focus in the query (selected), optionally replacing it first. */
  focus({ query } = {}) {
    if (query) {
      this.input.value = query;
      this.runNow();
    }
    this.input.focus();
    this.input.select();
  }

  onFieldKeyDown(event) {
    if (event.altKey && (event.code === "KeyC" || event.code === "KeyR")) {
      event.preventDefault();
      (event.code === "KeyC" ? this.caseToggle : this.regexToggle).click();
    } else if (event.key === "Enter") {
      event.preventDefault();
      this.runNow({ force: true });
    } else if (event.key === "ArrowDown" && event.target === this.input) {
      const first = this.results.querySelector("[data-testid=search-result]");
      if (first) {
        event.preventDefault();
        first.focus();
      }
    }
  }

  onResultsKeyDown(event) {
    const rows = [...this.results.querySelectorAll(".search-file:not(.collapsed) [data-testid=search-result]")];
    const index = rows.indexOf(document.activeElement);
    if (index === -1) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) this.input.focus();
      else rows[Math.min(next, rows.length - 1)].focus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      this.openResult(rows[index]);
    }
  }

  // ---- running ------------------------------------------------------------

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runNow(), DEBOUNCE_MS);
  }

  /** The request as it stands; the same request twice runs once unless forced. */
  async runNow({ force = false } = {}) {
    clearTimeout(this.timer);
    const request = {
      query: this.input.value,
      matchCase: this.caseToggle.getAttribute("aria-pressed") === "true",
      regex: this.regexToggle.getAttribute("aria-pressed") === "true",
      path: this.pathInput.value.trim(),
    };
    const key = JSON.stringify([this.mode.id, request]);
    if (key === this.lastRun && !force) return;
    this.lastRun = key;
    if (this.controller) this.controller.abort();
    if (!request.query) {
      this.controller = null;
      this.show(null);
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    this.summary.textContent = "Searching…";
    this.element.dataset.state = "searching";
    try {
      const results = await this.mode.run(request, { signal: controller.signal });
      if (controller === this.controller) this.show(results);
    } catch (error) {
      if (error.name === "AbortError" || controller !== this.controller) return;
      this.show(null, errorMessage(error));
    } finally {
      if (controller === this.controller) this.controller = null;
    }
  }

  // ---- results --------------------------------------------------------------

  show(results, errorText = "") {
    this.element.dataset.state = errorText ? "error" : "done";
    this.error.textContent = errorText;
    this.error.hidden = !errorText;
    if (!results) {
      this.summary.textContent = "";
      this.results.replaceChildren();
      return;
    }
    const notes = [];
    if (results.truncated) notes.push("more matches than shown: narrow the search");
    if (results.timed_out) notes.push("stopped at the time limit: results may be incomplete");
    const counts =
      results.match_count === 0
        ? "No results"
        : `${results.match_count} result${results.match_count === 1 ? "" : "s"} in ${results.file_count} file${results.file_count === 1 ? "" : "s"}`;
    this.summary.textContent = [counts, ...notes].join(" · ");
    this.results.replaceChildren(...results.files.map((group) => this.buildGroup(group)));
  }

  buildGroup({ path, matches }) {
    const header = h(
      "div",
      { class: "search-file-header", role: "treeitem", "aria-expanded": "true", title: path },
      h("span", { class: "search-file-name" }, baseName(path)),
      h("span", { class: "search-file-folder" }, parentPath(path)),
      h("span", { class: "search-file-count" }, String(matches.length)),
    );
    const list = h(
      "ul",
      { class: "search-matches", role: "group" },
      matches.map((match) =>
        h(
          "li",
          {
            class: "search-match",
            role: "treeitem",
            tabindex: "-1",
            title: `${path}:${match.line}`,
            dataset: { testid: "search-result", path, line: match.line, column: match.column, endColumn: match.end_column },
          },
          h("span", { class: "search-line-number" }, String(match.line)),
          h("span", { class: "search-preview" }, match.before, h("mark", {}, match.match), match.after),
        ),
      ),
    );
    return h("li", { class: "search-file", dataset: { testid: "search-file", path } }, header, list);
  }

  toggleGroup(group) {
    const collapsed = group.classList.toggle("collapsed");
    group.querySelector(".search-file-header").setAttribute("aria-expanded", String(!collapsed));
  }

  async openResult(row) {
    const { path, line, column, endColumn } = row.dataset;
    const tab = await this.tabs.open(path);
    if (!tab) return;
    const range = { startLineNumber: Number(line), startColumn: Number(column), endLineNumber: Number(line), endColumn: Number(endColumn) };
    this.tabs.editor.setSelection(range);
    this.tabs.editor.revealRangeInCenterIfOutsideViewport(range);
    this.tabs.editor.focus();
  }
}
