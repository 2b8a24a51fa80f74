import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { build, type Metafile } from "esbuild";

/** Modules loaded when `entry` is imported: the static import graph, dynamic import() edges not followed. */
function loadedAtImport(meta: Metafile, entry: string): Set<string> {
  const seen = new Set<string>([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const imp of meta.inputs[file]?.imports ?? []) {
      if (imp.kind !== "import-statement" || seen.has(imp.path)) continue;
      seen.add(imp.path);
      if (!imp.external) queue.push(imp.path);
    }
  }
  return seen;
}

/**
 * The package must import in a browser: everything `import "moekit"` loads must work without Node.
 * Node-only code (files, the native addon, the Dawn package, child processes) is reached only through
 * dynamic import() inside functions, which a browser never calls.
 */
describe("browser import", () => {
  it("loads no Node built-in, native addon or Node-only package when imported", async () => {
    const result = await build({
      entryPoints: ["src/index.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
      external: ["node:*", "webgpu", "*.node", "@huggingface/tokenizers", "@huggingface/jinja"],
    });
    const loaded = [...loadedAtImport(result.metafile, "src/index.ts")];
    const nodeOnly = loaded.filter((p) => p.startsWith("node:") || p === "webgpu" || p.endsWith(".node"));
    assert.deepEqual(nodeOnly, []);
    assert.ok(loaded.includes("src/experts/registry.ts") && loaded.includes("src/backends/reference/index.ts"), "the graph was really walked");
    const lazy = Object.values(result.metafile.inputs).flatMap((i) => i.imports.filter((x) => x.kind === "dynamic-import").map((x) => x.path));
    assert.ok(lazy.includes("node:fs/promises"), "Node file access exists, behind a dynamic import");
    assert.ok(!/\brequire\(["']node:/.test(result.outputFiles[0]!.text), "no require() of a Node built-in");
  });
});
