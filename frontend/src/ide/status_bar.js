// The status bar's live parts: save status of the active tab, its language
// and the cursor position. Workspace name and role are rendered by the
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
  constructor({ saveStatus, language, position }) {
    this.saveStatus = saveStatus;
    this.language = language;
    this.position = position;
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
