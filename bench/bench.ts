/** Development entry until the CLI is wired: `node --import tsx bench/bench.ts [bench options]` (or `tune ...`). */
import { benchCommand } from "../src/cli/bench.js";
import { tuneCommand } from "../src/cli/tune.js";

const [first, ...rest] = process.argv.slice(2);
process.exitCode = first === "tune" ? await tuneCommand(rest) : await benchCommand(first === undefined ? [] : [first, ...rest]);
