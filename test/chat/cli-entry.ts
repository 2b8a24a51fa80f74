// The moekit CLI from the sources (tests run it in a pseudo-terminal without building dist/).
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
