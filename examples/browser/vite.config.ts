import { builtinModules, createRequire } from "node:module";
import { defineConfig, type Plugin } from "vite";

const require = createRequire(import.meta.url);
const PREFIX = "\0node-stub:";

/**
 * moekit reaches Node built-ins only on Node paths (Checkpoint.open, the Hugging Face cache, the cpu
 * backend), through dynamic imports that a browser never runs. Vite's own browser stub of a built-in
 * has no named exports, so a module that imports names statically (src/loading/node-files.ts) fails
 * the build; this plugin stubs each built-in with its real export names, every one throwing if called.
 */
function nodeBuiltinStubs(): Plugin {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  return {
    name: "moekit-node-builtin-stubs",
    enforce: "pre",
    resolveId(id) {
      return builtins.has(id) ? PREFIX + id.replace(/^node:/, "") : null;
    },
    load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const name = id.slice(PREFIX.length);
      const names = Object.keys(require(name) as object).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
      const fail = `() => { throw new Error("node:${name} is not available in the browser"); }`;
      return [`const fail = ${fail};`, ...names.map((n) => `export const ${n} = fail;`), "export default {};"].join("\n");
    },
  };
}

// The page imports moekit from the repository's src/ (two levels up), so the dev server may read it.
export default defineConfig({
  base: "./",
  plugins: [nodeBuiltinStubs()],
  server: { fs: { allow: ["../.."] } },
  build: { target: "es2022", outDir: "dist", emptyOutDir: true },
});
