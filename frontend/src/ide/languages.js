// Maps a file name to a Monaco language id. Only languages whose grammars
// are bundled (see monaco.js) appear here. Unknown names return undefined so
// Monaco can still guess from the first line (a "#!/usr/bin/env python"
// script has no extension).
const BY_EXTENSION = {
  py: "python",
  pyi: "python",
  pyw: "python",
  json: "json",
  jsonc: "json",
  ipynb: "json",
  md: "markdown",
  markdown: "markdown",
  yml: "yaml",
  yaml: "yaml",
  // No TOML grammar ships with Monaco; INI's sections, keys and strings
  // cover most of what a pyproject.toml contains.
  toml: "ini",
  ini: "ini",
  cfg: "ini",
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  cts: "typescript",
  html: "html",
  htm: "html",
  css: "css",
  sh: "shell",
  bash: "shell",
  zsh: "shell",
};

const BY_NAME = {
  ".bashrc": "shell",
  ".bash_profile": "shell",
  ".profile": "shell",
  ".zshrc": "shell",
  ".editorconfig": "ini",
  ".gitconfig": "ini",
  "pipfile": "ini",
};

export function languageForPath(path) {
  const name = path.slice(path.lastIndexOf("/") + 1).toLowerCase();
  if (BY_NAME[name]) return BY_NAME[name];
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  return BY_EXTENSION[name.slice(dot + 1)];
}
