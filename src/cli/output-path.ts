/**
 * An output file named on the command line: its directory must already exist (moekit never creates
 * directories a user did not make, so a typo in a path is an error, not a new tree), and it must not
 * be a directory itself. Checked before any work starts.
 */
import { stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

export async function checkOutputFile(flag: string, path: string): Promise<void> {
  if (path === "") throw new Error(`${flag} needs a file path`);
  const full = resolve(path);
  const parent = await stat(dirname(full)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new Error(`${flag} ${path}: the directory ${dirname(full)} does not exist (create it first)`);
  const self = await stat(full).catch(() => undefined);
  if (self?.isDirectory()) throw new Error(`${flag} ${path} is a directory, not a file`);
}
