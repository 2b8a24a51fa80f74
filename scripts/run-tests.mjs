// Runs every test/**/*.test.ts with node's test runner (Node 20's --test takes no glob patterns).
// Extra arguments filter the files by substring: `npm test -- experts`.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";

const filters = process.argv.slice(2);
const files = readdirSync("test", { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".test.ts"))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => `test/${f}`);
if (files.length === 0) {
  console.error(`no test files match ${filters.join(", ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
