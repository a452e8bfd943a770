// JSON highlighting without Monaco's JSON language service: that service
// needs its own worker and ~300 KB of code for validation we will get from
// language servers later. A Monarch grammar is enough to colour the text.
import * as monaco from "monaco-editor/editor/editor.api.js";

monaco.languages.register({
  id: "json",
  extensions: [".json", ".jsonc", ".json5", ".ipynb", ".code-workspace"],
  aliases: ["JSON", "json"],
  mimetypes: ["application/json"],
});

monaco.languages.setLanguageConfiguration("json", {
  comments: { lineComment: "//", blockComment: ["/*", "*/"] },
  brackets: [
    ["{", "}"],
    ["[", "]"],
  ],
  autoClosingPairs: [
    { open: "{", close: "}", notIn: ["string"] },
    { open: "[", close: "]", notIn: ["string"] },
    { open: '"', close: '"', notIn: ["string"] },
  ],
});

monaco.languages.setMonarchTokensProvider("json", {
  defaultToken: "invalid",
  tokenPostfix: ".json",
  escapes: /\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4})/,
  tokenizer: {
    root: [
      { include: "@whitespace" },
      // A string followed by a colon is a key; colour it differently.
      [/"(?:[^"\\]|\\.)*"(?=\s*:)/, "type"],
      [/"/, { token: "string.quote", next: "@string" }],
      [/-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/, "number"],
      [/\b(?:true|false|null)\b/, "keyword"],
      [/[{}[\]]/, "@brackets"],
      [/[,:]/, "delimiter"],
    ],
    string: [
      [/[^\\"]+/, "string"],
      [/@escapes/, "string.escape"],
      [/\\./, "string.escape.invalid"],
      [/"/, { token: "string.quote", next: "@pop" }],
    ],
    whitespace: [
      [/\s+/, "white"],
      [/\/\/.*$/, "comment"],
      [/\/\*/, { token: "comment", next: "@comment" }],
    ],
    comment: [
      [/[^*/]+/, "comment"],
      [/\*\//, { token: "comment", next: "@pop" }],
      [/[*/]/, "comment"],
    ],
  },
});
