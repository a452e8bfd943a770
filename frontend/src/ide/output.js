// The "Output" panel: a log of what the IDE did (saves, file operations,
// failures) so that a message that flashed by in a toast can be read again,
// and the output of runs, streamed as it comes.
import { h } from "../lib/dom.js";

const MAX_LINES = 2000;

export class OutputLog {
  constructor(element) {
    this.element = element;
    this.list = h("ol", { class: "output-lines", dataset: { testid: "output-lines" } });
    this.openLine = null; // the streamed line that has not seen its newline yet
    element.replaceChildren(this.list);
  }

  /** kind: "info" | "error" | "run" (a run's header and footer) */
  log(message, kind = "info") {
    const time = new Date().toLocaleTimeString();
    this.openLine = null;
    this.append(() => this.list.append(h("li", { class: `output-line output-${kind}` }, h("span", { class: "output-time" }, time), " ", message)));
  }

  error(message) {
    this.log(message, "error");
  }

  /**
   * Program output, which arrives in chunks that need not end at a line
   * break. stream: "stdout" | "stderr"; stderr shows in red, and both
   * streams can share a line, as they would in a terminal.
   */
  stream(text, stream) {
    const parts = String(text).replace(/\r\n/g, "\n").split("\n");
    this.append(() => {
      parts.forEach((part, index) => {
        if (index > 0) {
          // A newline ends the current line, which may be an empty one.
          if (!this.openLine) this.newStreamLine();
          this.openLine = null;
        }
        if (part === "") return;
        if (!this.openLine) this.newStreamLine();
        const last = this.openLine.lastElementChild;
        if (last && last.dataset.stream === stream) last.append(part);
        else this.openLine.append(h("span", { class: `output-${stream}`, dataset: { stream } }, part));
      });
    });
  }

  newStreamLine() {
    this.openLine = h("li", { class: "output-line output-stream" });
    this.list.append(this.openLine);
  }

  /** Scrolls to the newest line, e.g. when a run starts. */
  scrollToEnd() {
    this.element.scrollTop = this.element.scrollHeight;
  }

  append(change) {
    const atBottom = this.element.scrollTop + this.element.clientHeight >= this.element.scrollHeight - 4;
    change();
    while (this.list.childElementCount > MAX_LINES) {
      if (this.list.firstElementChild === this.openLine) this.openLine = null;
      this.list.firstElementChild.remove();
    }
    // Follow new output unless the user scrolled up to read something.
    if (atBottom) this.scrollToEnd();
  }
}
