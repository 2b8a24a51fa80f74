#!/usr/bin/env node
// The moekit CLI. The TypeScript sources are compiled to dist/ by `npm install` (the prepare script).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { newerSource } from "./stale-build.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "dist", "cli", "main.js");
if (!existsSync(entry)) {
  console.error("moekit: dist/ is missing; run `npm install` (or `npm run build`) in " + root);
  process.exit(1);
}
const stale = newerSource(root);
if (stale) console.error(`moekit: warning: src/${stale} changed after dist/ was built; this runs the old dist/ (run \`npm run build\`)`);
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
