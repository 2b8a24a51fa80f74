import { expertsInterface } from "../experts/registry.js";
import { SUPPORTED_MODEL_TYPES } from "../models/families/index.js";

export async function infoCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log("Usage: moekit info\n\nLists the registered experts implementations and the supported model types.");
    return 0;
  }
  console.log(`experts implementations: ${expertsInterface.list().join(", ")}`);
  console.log(`model types: ${SUPPORTED_MODEL_TYPES.join(", ")}`);
  return 0;
}
