import { defineConfig } from "tsup";

// react and @voicewire/client stay imports (peer and dependency), never bundled.
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm"],
  dts: true,
  target: "es2022",
  splitting: false,
  sourcemap: false,
  clean: true,
});
