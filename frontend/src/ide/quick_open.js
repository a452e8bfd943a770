// Quick open (Ctrl+P): type part of a file's name, Enter opens it. The list
// of files comes from the server (files/all/: the whole workspace without
// .git, .venv, node_modules, __pycache__ and what .gitignore ignores) and is
// fetched again each time the picker opens, showing the previous list
// meanwhile, so files made in the terminal appear without a refresh.
//
// "name:12" (or "name:12:5") opens the file at that line (and column).
import { errorMessage } from "../lib/api.js";
import { fuzzyFilter } from "./fuzzy.js";
import { openQuickPick } from "./quick_pick.js";

const LINE_SUFFIX = /:(\d+)(?::(\d+))?$/;

export class QuickOpen {
  /**
   * @param {object} options
   * @param {object} options.files     filesApi(workspaceId)
   * @param {import('./editor_tabs.js').EditorTabs} options.tabs
   */
  constructor({ files, tabs }) {
    Object.assign(this, { files, tabs });
    this.paths = null; // the last list from the server
    this.truncated = false;
  }

  show() {
    let loadingNote = this.paths ? "" : "Loading the file list…";
    const picker = openQuickPick({
      testid: "quick-open",
      placeholder: "Search files by name (append :line to go to a line)",
      filter: (query) => this.filter(query, loadingNote),
      onAccept: (row, query) => this.openAt(row.data, query),
    });
    this.files.all().then(
      (listing) => {
        this.paths = listing.files;
        this.truncated = listing.truncated;
        loadingNote = "";
        picker.refresh();
      },
      (error) => {
        loadingNote = "";
        picker.setNote(`Could not list the files: ${errorMessage(error)}`);
        picker.refresh();
      },
    );
  }

  filter(query, loadingNote) {
    const paths = this.paths || [];
    const name = query.replace(LINE_SUFFIX, "");
    const notes = [loadingNote, this.truncated ? `Only the first ${paths.length} files are listed` : ""];
    const rows = fuzzyFilter(paths, name, (path) => path).map(({ item: path, positions }) => {
      const nameStart = path.lastIndexOf("/") + 1;
      return {
        key: path,
        label: path.slice(nameStart),
        labelHighlights: positions.filter((p) => p >= nameStart).map((p) => p - nameStart),
        description: path.slice(0, Math.max(0, nameStart - 1)),
        descriptionHighlights: positions.filter((p) => p < nameStart - 1),
        data: path,
      };
    });
    return { rows, note: notes.filter(Boolean).join(" · ") };
  }

  async openAt(path, query) {
    const tab = await this.tabs.open(path);
    const suffix = LINE_SUFFIX.exec(query);
    if (!tab || !suffix) return;
    const position = { lineNumber: Number(suffix[1]), column: Number(suffix[2] || 1) };
    this.tabs.editor.setPosition(position);
    this.tabs.editor.revealPositionInCenterIfOutsideViewport(position);
    this.tabs.editor.focus();
  }
}
