import { defineConfig } from "vite";

// `base: "./"`: the built app works from any path (the browser tests serve it under /app/).
// The capture worklet is loaded by URL (audioWorklet.addModule); Vite would inline a file that
// small as a data: URL, which a strict Content-Security-Policy blocks: keep it a file.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: (file) => (file.endsWith("capture-worklet.js") ? false : undefined),
  },
});
