// Bundles the browser code into ../static/dist/ with esbuild.
//
//   node build.mjs          production build (minified, no source maps)
//   node build.mjs --dev    readable output with linked source maps
//   node build.mjs --watch  dev build that rebuilds on change
//
// Output names are stable (no content hashes): Django's static files storage
// owns cache busting, and templates refer to these names directly.
import * as esbuild from "esbuild";
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, "../static/dist");
const watch = process.argv.includes("--watch");
const dev = watch || process.argv.includes("--dev");

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: here,
  entryPoints: {
    app: "src/app.css",
    workspace_list: "src/pages/workspace_list.js",
    members: "src/pages/members.js",
    tokens: "src/pages/tokens.js",
    ide: "src/ide/main.js",
    // Monaco runs its text-model computations (diffs, word ranges) in a web
    // worker; it must be its own file because a worker loads a URL.
    "editor.worker": "monaco-editor/editor/editor.worker.js",
  },
  outdir,
  bundle: true,
  // Module scripts: the pages load them with <script type="module">, and
  // Monaco creates its worker as a module worker that imports this file.
  format: "esm",
  target: "es2020",
  // Monaco's CSS refers to the codicon font; "file" copies it next to the
  // CSS so the relative url() keeps working under any STATIC_URL.
  loader: { ".ttf": "file" },
  // Monaco's own LSP client (monaco.lsp) is exported only through the full
  // "monaco-editor" entry, which bundles every language service; reach the
  // module directly (frontend/src/ide/lsp_client.js).
  alias: { "monaco-editor-lsp-client": "./node_modules/monaco-editor/esm/external/monaco-lsp-client/out/index.js" },
  assetNames: "[name]-[hash]",
  minify: !dev,
  sourcemap: dev ? "linked" : false,
  // Third-party licence comments go to one file per bundle instead of
  // bloating the bundles themselves.
  legalComments: dev ? "inline" : "linked",
  metafile: true,
  logLevel: watch ? "info" : "warning",
};

// Stale files from a previous build (e.g. a renamed entry) must not linger.
await rm(outdir, { recursive: true, force: true });

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log(`watching, writing to ${outdir}`);
} else {
  const result = await esbuild.build(options);
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => !file.endsWith(".map") && !file.endsWith(".LEGAL.txt"))
    .map(([file, info]) => [path.relative(here, file), info.bytes]);
  for (const [file, bytes] of outputs) {
    console.log(`${(bytes / 1024).toFixed(1).padStart(9)} KiB  ${file}`);
  }
}
