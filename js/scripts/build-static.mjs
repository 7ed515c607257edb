// Builds the browser files the Python server serves under /static from the packages' sources:
//
//   voicewire.js         <- packages/client/src/index.ts           (@voicewire/client)
//   capture-worklet.js   <- packages/client/src/capture-worklet.ts (loaded by URL, beside it)
//   react.js             <- packages/react/src/index.ts            (@voicewire/react)
//
// react.js imports "./voicewire.js" (the same client module as the page) and "react" (the page's
// import map). The output is committed (the wheel ships it; Python users need no node) and
// tests/server/static/test_bundle.py rebuilds it into a temporary directory and compares bytes,
// so the build must be deterministic: no timestamps, no absolute paths, no minification.
//
//   node scripts/build-static.mjs [--outdir DIR]   (default: src/voicewire/server/static)
import * as esbuild from "esbuild";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const js = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const outdir = resolve(values.outdir ?? resolve(js, "../src/voicewire/server/static"));

const banner = (source, usage) =>
  `// Built from js/${source} by \`make js\` (js/scripts/build-static.mjs): edit the TypeScript, not this file.\n` +
  `// ${usage}`;

/** `@voicewire/client` -> the sibling static module, kept as an import. */
const clientBeside = {
  name: "voicewire-client-beside",
  setup(build) {
    build.onResolve({ filter: /^@voicewire\/client$/ }, () => ({ path: "./voicewire.js", external: true }));
  },
};

const targets = [
  {
    entry: "packages/client/src/index.ts",
    out: "voicewire.js",
    usage: 'import { RealtimeClient } from "/static/voicewire.js"; the API: js/packages/client/README.md',
  },
  {
    entry: "packages/client/src/capture-worklet.ts",
    out: "capture-worklet.js",
    usage: "The microphone AudioWorklet BrowserChannel loads by URL from beside voicewire.js (24 kHz PCM16 frames).",
  },
  {
    entry: "packages/react/src/index.ts",
    out: "react.js",
    usage:
      'import { useRealtime, useBrowserAudio } from "/static/react.js" ("react" from the page\'s import map); ' +
      "the API: js/packages/react/README.md",
    external: ["react"],
    plugins: [clientBeside],
  },
];

for (const target of targets) {
  await esbuild.build({
    absWorkingDir: js,
    entryPoints: [target.entry],
    outfile: resolve(outdir, target.out),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    charset: "utf8",
    legalComments: "inline",
    banner: { js: banner(target.entry, target.usage) },
    external: target.external ?? [],
    plugins: target.plugins ?? [],
    logLevel: "warning",
  });
}
console.log(`built ${targets.map((t) => t.out).join(", ")} into ${outdir}`);
