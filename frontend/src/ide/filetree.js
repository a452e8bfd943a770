// The file tree (Explorer). Directories load one level at a time when first
// expanded, because a workspace can hold a virtualenv or node_modules with
// tens of thousands of files. Mutating actions (new, rename, delete, upload)
// exist only when the user can edit; the server checks again regardless.
import { closeContextMenu, openContextMenu } from "../lib/context_menu.js";
import { confirmDialog, notify, notifyError, promptName } from "../lib/dialogs.js";
import { errorMessage } from "../lib/api.js";
import { formatSize, h } from "../lib/dom.js";
import { baseName, isSameOrInside, joinPath, movedPath, parentPath } from "./paths.js";

export class FileTree {
  /**
   * @param {object} options
   * @param {HTMLElement} options.element   the role=tree container
   * @param {object} options.files          filesApi(workspaceId)
   * @param {boolean} options.canEdit
   * @param {(path: string) => void} options.onOpen
   * @param {(from: string, to: string) => void} options.onMoved
   * @param {(path: string) => void} options.onDeleted
   * @param {import('./output.js').OutputLog} options.output
   */
  constructor({ element, files, canEdit, onOpen, onMoved, onDeleted, output }) {
    Object.assign(this, { element, files, canEdit, onOpen, onMoved, onDeleted, output });
    this.nodes = new Map(); // path -> { path, name, type, row, group, loaded }
    this.expanded = new Set();
    this.syncing = new Map(); // directory -> { again, promise }: one re-listing at a time per folder
    this.selected = null;
    const rootGroup = h("ul", { class: "tree-group", role: "group" });
    this.nodes.set("", { path: "", name: "", type: "directory", row: null, group: rootGroup, loaded: false });
    element.replaceChildren(rootGroup);

    element.addEventListener("click", (event) => this.onClick(event));
    element.addEventListener("contextmenu", (event) => this.onContextMenu(event));
    element.addEventListener("keydown", (event) => this.onKeyDown(event));
  }

  // ---- loading and rendering -------------------------------------------

  async load(directory = "") {
    const node = this.nodes.get(directory);
    if (!node || node.type !== "directory") return;
    node.group.setAttribute("aria-busy", "true");
    let listing;
    try {
      listing = await this.files.list(directory);
    } catch (error) {
      node.group.removeAttribute("aria-busy");
      node.group.replaceChildren(
        h("li", { class: "tree-message tree-error", role: "none" }, `Could not list ${directory || "the workspace"}: ${errorMessage(error)}`),
      );
      this.output.error(`Listing ${directory || "/"} failed: ${errorMessage(error)}`);
      return;
    }
    // Forget what used to be below this directory; expanded state is kept
    // in this.expanded, so re-expanded subdirectories reload below.
    for (const path of [...this.nodes.keys()]) {
      if (path !== directory && isSameOrInside(path, directory)) this.nodes.delete(path);
    }
    const depth = directory === "" ? 0 : directory.split("/").length;
    const items = listing.entries.map((entry) => this.buildItem(entry, depth));
    node.group.replaceChildren(...items);
    if (!items.length) {
      node.group.append(h("li", { class: "tree-message muted", role: "none", style: `--depth: ${depth}` }, "(empty)"));
    }
    node.loaded = true;
    node.group.removeAttribute("aria-busy");
    if (this.selected && this.nodes.has(this.selected)) this.markSelected(this.selected);
    else this.updateTabStop();
    await Promise.all(
      listing.entries.filter((entry) => entry.type === "directory" && this.expanded.has(entry.path)).map((entry) => this.expand(entry.path)),
    );
  }

  buildItem(entry, depth) {
    const isDirectory = entry.type === "directory";
    const title = isDirectory ? entry.path : `${entry.path} (${formatSize(entry.size)})`;
    const row = h(
      "div",
      {
        class: `tree-row tree-${entry.type}`,
        role: "treeitem",
        tabindex: "-1",
        title,
        style: `--depth: ${depth}`,
        "aria-level": depth + 1,
        "aria-selected": "false",
        "aria-expanded": isDirectory ? "false" : undefined,
        dataset: { testid: "tree-item", path: entry.path, type: entry.type },
      },
      h("span", { class: "tree-twisty", "aria-hidden": "true" }),
      h("span", { class: "tree-icon", "aria-hidden": "true" }),
      h("span", { class: "tree-name" }, entry.name),
    );
    const group = isDirectory ? h("ul", { class: "tree-group", role: "group", hidden: true }) : null;
    this.nodes.set(entry.path, { path: entry.path, name: entry.name, type: entry.type, row, group, loaded: false });
    return h("li", { role: "none" }, row, group);
  }

  async expand(path) {
    const node = this.nodes.get(path);
    if (!node || node.type !== "directory") return;
    this.expanded.add(path);
    if (node.row) node.row.setAttribute("aria-expanded", "true");
    node.group.hidden = false;
    if (!node.loaded) await this.load(path);
  }

  collapse(path) {
    const node = this.nodes.get(path);
    if (!node || !node.row) return;
    this.expanded.delete(path);
    node.row.setAttribute("aria-expanded", "false");
    node.group.hidden = true;
    this.updateTabStop();
  }

  toggle(path) {
    return this.expanded.has(path) ? this.collapse(path) : this.expand(path);
  }

  collapseAll() {
    for (const path of [...this.expanded]) this.collapse(path);
  }

  /** Reloads the whole tree, keeping expanded directories open. */
  refresh() {
    return this.load("");
  }

  /** Expands the ancestors of `path` (loading them) and selects it. */
  async reveal(path) {
    const parts = path.split("/");
    for (let index = 1; index < parts.length; index += 1) {
      await this.expand(parts.slice(0, index).join("/"));
    }
    this.select(path, { focus: false });
  }

  markSelected(path) {
    for (const row of this.element.querySelectorAll(".tree-row[aria-selected=true]")) row.setAttribute("aria-selected", "false");
    const node = this.nodes.get(path);
    if (node && node.row) node.row.setAttribute("aria-selected", "true");
    this.updateTabStop();
  }

  // Roving tabindex: exactly one row (the selected one, else the first) is
  // reachable with Tab; arrow keys move between rows from there.
  updateTabStop() {
    const rows = this.element.querySelectorAll(".tree-row");
    const selected = this.element.querySelector(".tree-row[aria-selected=true]");
    const stop = selected && selected.offsetParent !== null ? selected : rows[0];
    for (const row of rows) row.tabIndex = row === stop ? 0 : -1;
  }

  select(path, { focus = true } = {}) {
    this.selected = path;
    this.markSelected(path);
    const node = this.nodes.get(path);
    if (node && node.row) {
      node.row.scrollIntoView({ block: "nearest" });
      if (focus) node.row.focus();
    }
  }

  /** Where "New file" goes: the selected directory, or the selected file's directory. */
  targetDirectory() {
    const node = this.selected != null ? this.nodes.get(this.selected) : null;
    if (!node) return "";
    return node.type === "directory" ? node.path : parentPath(node.path);
  }

  // ---- events ------------------------------------------------------------

  rowFromEvent(event) {
    const row = event.target.closest(".tree-row");
    return row && this.element.contains(row) ? row : null;
  }

  onClick(event) {
    const row = this.rowFromEvent(event);
    if (!row) return;
    const { path, type } = row.dataset;
    this.select(path);
    if (type === "directory") this.toggle(path);
    else this.onOpen(path);
  }

  onContextMenu(event) {
    event.preventDefault();
    const row = this.rowFromEvent(event);
    if (row) this.select(row.dataset.path);
    this.showMenu(row ? row.dataset.path : "", event.clientX, event.clientY, row || this.element);
  }

  visibleRows() {
    return [...this.element.querySelectorAll(".tree-row")].filter((row) => row.offsetParent !== null);
  }

  onKeyDown(event) {
    const row = this.rowFromEvent(event);
    if (!row) return;
    const { path, type } = row.dataset;
    const rows = this.visibleRows();
    const index = rows.indexOf(row);
    const handled = () => {
      event.preventDefault();
      event.stopPropagation();
    };
    switch (event.key) {
      case "ArrowDown":
        handled();
        if (rows[index + 1]) this.select(rows[index + 1].dataset.path);
        break;
      case "ArrowUp":
        handled();
        if (rows[index - 1]) this.select(rows[index - 1].dataset.path);
        break;
      case "ArrowRight":
        handled();
        if (type === "directory" && !this.expanded.has(path)) this.expand(path);
        else if (type === "directory" && rows[index + 1]) this.select(rows[index + 1].dataset.path);
        break;
      case "ArrowLeft":
        handled();
        if (type === "directory" && this.expanded.has(path)) this.collapse(path);
        else if (parentPath(path)) this.select(parentPath(path));
        break;
      case "Enter":
        handled();
        if (type === "directory") this.toggle(path);
        else this.onOpen(path);
        break;
      case "F2":
        if (this.canEdit) {
          handled();
          this.rename(path);
        }
        break;
      case "Delete":
        if (this.canEdit) {
          handled();
          this.delete(path);
        }
        break;
      case "ContextMenu":
        handled();
        this.showMenuAtRow(row);
        break;
      default:
        if (event.key === "F10" && event.shiftKey) {
          handled();
          this.showMenuAtRow(row);
        }
    }
  }

  showMenuAtRow(row) {
    const box = row.getBoundingClientRect();
    this.showMenu(row.dataset.path, box.left + 24, box.bottom, row);
  }

  showMenu(path, x, y, returnFocus) {
    const node = this.nodes.get(path);
    if (!node) return;
    const isRoot = path === "";
    const isDirectory = node.type === "directory";
    const items = [];
    if (!isDirectory) items.push({ label: "Open", testid: "ctx-open", action: () => this.onOpen(path) });
    if (this.canEdit && isDirectory) {
      items.push(
        { label: "New file…", testid: "ctx-new-file", action: () => this.createEntry("file", path) },
        { label: "New folder…", testid: "ctx-new-folder", action: () => this.createEntry("directory", path) },
        { label: "Upload files…", testid: "ctx-upload", action: () => this.chooseUpload(path) },
      );
    }
    if (!isDirectory) items.push({ label: "Download", testid: "ctx-download", action: () => this.download(path) });
    if (this.canEdit && !isRoot) {
      items.push(
        null,
        { label: "Rename…", testid: "ctx-rename", action: () => this.rename(path) },
        { label: "Delete…", testid: "ctx-delete", danger: true, action: () => this.delete(path) },
      );
    }
    if (isRoot) items.push(null, { label: "Refresh", testid: "ctx-refresh", action: () => this.refresh() });
    while (items.length && items[0] === null) items.shift();
    if (!items.length) return;
    openContextMenu({ x, y, items, returnFocus });
  }

  // ---- following the disk (file_events.js) -----------------------------

  /** Files added or deleted on disk: re-list the shown folders that hold them, leaving the rest as it is. */
  applyDiskChanges(changes) {
    const folders = new Set(changes.filter(({ change }) => change !== "modified").map(({ path }) => parentPath(path)));
    return Promise.all([...folders].map((folder) => this.syncDirectory(folder)));
  }

  /** After a reconnect or a resync: re-list every folder that was loaded. */
  resync() {
    const loaded = [...this.nodes.values()].filter((node) => node.type === "directory" && node.loaded);
    return Promise.all(loaded.map((node) => this.syncDirectory(node.path)));
  }

  /** Empties the tree for good (the workspace is gone). */
  clear() {
    this.nodes.clear();
    this.expanded.clear();
    this.element.replaceChildren();
  }

  /** Brings a loaded folder's rows in line with the disk; one listing at a time per folder, the last one wins. */
  syncDirectory(directory) {
    const running = this.syncing.get(directory);
    if (running) {
      running.again = true;
      return running.promise;
    }
    const state = { again: true, promise: null };
    state.promise = (async () => {
      try {
        while (state.again) {
          state.again = false;
          await this.syncOnce(directory);
        }
      } finally {
        this.syncing.delete(directory);
      }
    })();
    this.syncing.set(directory, state);
    return state.promise;
  }

  async syncOnce(directory) {
    const node = this.nodes.get(directory);
    if (!node || node.type !== "directory" || !node.loaded) return; // not shown: listed when it is
    let listing;
    try {
      listing = await this.files.list(directory);
    } catch {
      return; // gone (its parent's listing drops it) or out of reach for now: the next change tries again
    }
    if (this.nodes.get(directory) !== node || !node.loaded) return;
    const depth = directory === "" ? 0 : directory.split("/").length;
    const current = new Map();
    for (const item of [...node.group.children]) {
      const row = item.querySelector(":scope > .tree-row");
      if (row) current.set(row.dataset.path, item);
      else item.remove(); // "(empty)" or an error line
    }
    const items = [];
    const added = [];
    for (const entry of listing.entries) {
      const item = current.get(entry.path);
      const known = this.nodes.get(entry.path);
      current.delete(entry.path);
      if (item && known && known.type === entry.type) {
        known.row.title = entry.type === "directory" ? entry.path : `${entry.path} (${formatSize(entry.size)})`;
        items.push(item);
        continue;
      }
      if (item) {
        this.forget(entry.path); // a file became a folder or the other way round
        item.remove();
      }
      items.push(this.buildItem(entry, depth));
      added.push(entry);
    }
    for (const [path, item] of current) {
      this.forget(path);
      item.remove();
    }
    // Rows move only when out of place, so a focused row keeps its focus.
    let cursor = node.group.firstElementChild;
    for (const item of items) {
      if (item === cursor) cursor = cursor.nextElementSibling;
      else node.group.insertBefore(item, cursor);
    }
    if (!items.length) node.group.append(h("li", { class: "tree-message muted", role: "none", style: `--depth: ${depth}` }, "(empty)"));
    if (this.selected != null && !this.nodes.has(this.selected)) this.selected = null;
    this.updateTabStop();
    // A folder that was open before (deleted and made again, say by git) opens again.
    await Promise.all(added.filter((entry) => entry.type === "directory" && this.expanded.has(entry.path)).map((entry) => this.expand(entry.path)));
  }

  /** Drops the nodes of `path` and everything below it (their rows are gone). */
  forget(path) {
    for (const known of [...this.nodes.keys()]) {
      if (known !== "" && isSameOrInside(known, path)) this.nodes.delete(known);
    }
  }

  // ---- actions ---------------------------------------------------------

  /** Prompts for a name and creates a file or directory inside `directory`. */
  async createEntry(type, directory = this.targetDirectory()) {
    closeContextMenu();
    const noun = type === "file" ? "file" : "folder";
    const where = directory ? `in ${directory}/` : "in the workspace root";
    const created = await promptName({
      title: `New ${noun}`,
      label: `Name (${where})`,
      help: "Use / to create it in a subfolder, e.g. src/app.py.",
      submitLabel: "Create",
      submit: (name) => this.files.create(joinPath(directory, name), type),
    });
    if (!created) return;
    this.output.log(`Created ${created.path}`);
    await this.load(directory);
    await this.reveal(created.path);
    if (created.type === "file") this.onOpen(created.path);
  }

  async rename(path) {
    const node = this.nodes.get(path);
    if (!node) return;
    const directory = parentPath(path);
    const moved = await promptName({
      title: `Rename ${node.type === "directory" ? "folder" : "file"}`,
      label: "New name",
      value: node.name,
      submitLabel: "Rename",
      submit: (name) => {
        const destination = joinPath(directory, name);
        return destination === path ? null : this.files.move(path, destination);
      },
    });
    if (!moved) return;
    this.output.log(`Renamed ${path} to ${moved.path}`);
    // Keep the moved directory (and open subdirectories) expanded.
    for (const expandedPath of [...this.expanded]) {
      if (isSameOrInside(expandedPath, path)) {
        this.expanded.delete(expandedPath);
        this.expanded.add(movedPath(expandedPath, path, moved.path));
      }
    }
    this.onMoved(path, moved.path);
    await this.load(directory);
    if (parentPath(moved.path) !== directory && this.nodes.has(parentPath(moved.path))) await this.load(parentPath(moved.path));
    await this.reveal(moved.path);
  }

  async delete(path) {
    const node = this.nodes.get(path);
    if (!node) return;
    const isDirectory = node.type === "directory";
    const deleted = await confirmDialog({
      title: isDirectory ? `Delete folder “${node.name}”?` : `Delete “${node.name}”?`,
      message: isDirectory
        ? `The folder ${path}/ and everything in it will be deleted. This cannot be undone.`
        : `${path} will be deleted. This cannot be undone.`,
      submitLabel: "Delete",
      danger: true,
      submit: () => this.files.remove(path, { recursive: isDirectory }).then(() => true),
    });
    if (!deleted) return;
    this.output.log(`Deleted ${path}`);
    for (const expandedPath of [...this.expanded]) if (isSameOrInside(expandedPath, path)) this.expanded.delete(expandedPath);
    if (this.selected && isSameOrInside(this.selected, path)) this.selected = parentPath(path) || null;
    this.onDeleted(path);
    await this.load(parentPath(path));
  }

  download(path) {
    // A plain link lets the browser handle the attachment (progress, save
    // dialog) and keeps large files out of memory.
    const link = h("a", { href: this.files.downloadUrl(path), download: baseName(path), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
  }

  chooseUpload(directory = this.targetDirectory()) {
    const input = h("input", { type: "file", multiple: true, hidden: true });
    input.addEventListener("change", () => {
      const chosen = [...input.files];
      input.remove();
      if (chosen.length) this.upload(directory, chosen);
    });
    document.body.append(input);
    input.click();
  }

  async upload(directory, fileList) {
    let uploaded = 0;
    for (const file of fileList) {
      try {
        const entry = await this.files.upload(directory, file);
        uploaded += 1;
        this.output.log(`Uploaded ${entry.path} (${formatSize(entry.size)})`);
      } catch (error) {
        notifyError(error, `Uploading ${file.name} failed`);
        this.output.error(`Uploading ${file.name} failed: ${errorMessage(error)}`);
      }
    }
    if (uploaded) {
      notify(`Uploaded ${uploaded} file${uploaded === 1 ? "" : "s"}.`, { kind: "success" });
      if (directory) await this.expand(directory);
      await this.load(directory);
    }
  }
}
