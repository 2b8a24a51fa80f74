// `moekit` as bin/moekit.js runs it, from the TypeScript sources: tests spawn this to check exit codes and stderr.
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
