// The status bar's live parts: save status of the active tab, its language,
// the cursor position, a note on the file (a large file's limits) and the
// problems' counts. Workspace name and role are rendered by the template and
// never change on this page.
const SAVE_STATE_TEXT = {
  none: "",
  saved: "All changes saved",
  dirty: "Unsaved changes",
  saving: "Saving…",
  error: "Save failed",
  conflict: "Conflict: file changed on disk",
  readonly: "Read-only",
};

export class StatusBar {
  constructor({ saveStatus, language, position, note, problems }) {
    this.saveStatus = saveStatus;
    this.language = language;
    this.position = position;
    this.note = note;
    this.problems = problems;
  }

  /** The language servers' error and warning counts (problems_panel.js). */
  setProblems({ error, warning }) {
    if (!this.problems) return;
    this.problems.dataset.errors = String(error);
    this.problems.dataset.warnings = String(warning);
    this.problems.textContent = `⊗ ${error}  ⚠ ${warning}`;
    const label = `${error} error${error === 1 ? "" : "s"}, ${warning} warning${warning === 1 ? "" : "s"}: show the problems`;
    this.problems.title = label;
    this.problems.setAttribute("aria-label", label);
  }

  /** A short note about the active file (a large file's limits); "" hides it. */
  setNote(text) {
    this.note.textContent = text || "";
    this.note.title = text || "";
  }

  /** state: a key of SAVE_STATE_TEXT; `detail` replaces the default text. */
  setSaveState(state, detail) {
    this.saveStatus.dataset.state = state;
    this.saveStatus.textContent = detail || SAVE_STATE_TEXT[state] || "";
  }

  setLanguage(languageId) {
    this.language.textContent = languageId || "";
  }

  setPosition(position) {
    this.position.textContent = position ? `Ln ${position.lineNumber}, Col ${position.column}` : "";
  }
}
