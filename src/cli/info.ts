import { expertsInterface } from "../experts/registry.js";
import { SUPPORTED_MODEL_TYPES } from "../models/families/index.js";

export async function infoCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log("Usage: moekit info\n\nLists the registered experts implementations and the supported model types.");
    return 0;
  }
  if (argv.length > 0) {
    console.error(`moekit info: unexpected argument '${argv[0]}' (moekit info takes no arguments; see moekit info --help)`);
    return 2;
  }
  console.log("experts implementations (name, backend, auto candidate, what it does):");
  const rows = expertsInterface.describe();
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) {
    const where = r.backend ? `${r.backend} only` : "every backend";
    console.log(`  ${r.name.padEnd(width)}  ${where.padEnd(14)} ${r.autoCandidate ? "auto" : "    "}  ${r.description ?? ""}`.trimEnd());
  }
  console.log(`model types: ${SUPPORTED_MODEL_TYPES.join(", ")}`);
  return 0;
}
