// consumer.tsx uses every export of both packages: each name the built .d.ts exports appears in
// its imports (so a new export without a consumer fails here, not in a user's editor).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = dirname(fileURLToPath(import.meta.url));
const consumer = readFileSync(resolve(here, "consumer.tsx"), "utf8");

/** The names in the final `export { ... }` (and re-exports) of a built declaration file. */
function exported(dts: string): string[] {
  const names: string[] = [];
  for (const match of dts.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const part of match[1]!.split(",")) {
      const name = part.trim().replace(/^type /, "").split(" as ").at(-1)!.trim();
      if (name) names.push(name);
    }
  }
  return names;
}

/** The names a module specifier's import in consumer.tsx brings in. */
function imported(module: string): Set<string> {
  const match = consumer.match(new RegExp(`import \\{([^}]*)\\} from "${module}"`));
  if (!match) throw new Error(`consumer.tsx does not import ${module}`);
  return new Set(match[1]!.split(",").map((part) => part.trim().replace(/^type /, "")).filter(Boolean));
}

describe.each([
  ["@voicewire/client", "../packages/client/dist/index.d.ts"],
  ["@voicewire/react", "../packages/react/dist/index.d.ts"],
])("%s", (module, dts) => {
  it("has every export used by the consumer file", () => {
    const names = exported(readFileSync(resolve(here, dts), "utf8"));
    expect(names.length).toBeGreaterThan(5);
    const used = module === "@voicewire/react" ? new Set([...imported(module), ...imported("@voicewire/client")]) : imported(module);
    expect(names.filter((name) => !used.has(name))).toEqual([]);
  });
});
