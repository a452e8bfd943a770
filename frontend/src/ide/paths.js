// Workspace-relative path helpers. Paths use "/" and have no leading slash;
// "" is the workspace root (the API's convention).

export function joinPath(directory, name) {
  const cleanName = name.replace(/^\/+/, "");
  return directory ? `${directory}/${cleanName}` : cleanName;
}

export function parentPath(path) {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

export function baseName(path) {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** True if `path` is `ancestor` itself or lies inside it. */
export function isSameOrInside(path, ancestor) {
  if (ancestor === "") return true;
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

/** Rewrites `path` for a move of `from` to `to` (path must be inside `from`). */
export function movedPath(path, from, to) {
  return path === from ? to : to + path.slice(from.length);
}
