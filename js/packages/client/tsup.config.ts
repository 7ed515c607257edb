import { defineConfig } from "tsup";

// Two entries: the client, and the capture worklet as its own module (the browser loads it by
// URL with audioWorklet.addModule(), next to index.js).
export default defineConfig({
  entry: { index: "src/index.ts", "capture-worklet": "src/capture-worklet.ts" },
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  target: "es2022",
  splitting: false,
  sourcemap: false,
  clean: true,
});
