// The status bar's live parts: save status of the active tab, its language,
// the cursor position and a note on the file (a large file's limits). Workspace name and role are rendered by the
// template and never change on this page.
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
  constructor({ saveStatus, language, position, note }) {
    this.saveStatus = saveStatus;
    this.language = language;
    this.position = position;
    this.note = note;
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
