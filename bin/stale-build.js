// In a development checkout the CLI runs the compiled dist/, not src/: after an edit or a pull without
// `npm run build` it would run (and benchmark) the old code without a word. An installed package has no src/.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The newest src/ TypeScript file changed after dist/ was built (relative to src/), or undefined. */
export function newerSource(root) {
  const src = join(root, "src");
  const built = join(root, "dist", "cli", "main.js");
  if (!existsSync(src) || !existsSync(built)) return undefined;
  const builtAt = statSync(built).mtimeMs;
  let newest;
  let newestAt = builtAt;
  for (const file of readdirSync(src, { recursive: true })) {
    if (typeof file !== "string" || !file.endsWith(".ts")) continue;
    const at = statSync(join(src, file)).mtimeMs;
    if (at > newestAt) [newest, newestAt] = [file, at];
  }
  return newest;
}
