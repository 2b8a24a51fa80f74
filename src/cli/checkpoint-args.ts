/**
 * The arguments shared by the commands that read one checkpoint and write one output (`moekit convert`,
 * `moekit quantize`): `<dir|repo> -o OUT [--dtype D]` plus the command's own value-less switches.
 */
import { UsageError } from "./usage-error.js";

export interface CheckpointArgs {
  source: string;
  output?: string;
  dtype?: string;
  /** the switches given, out of those the command accepts */
  switches: Set<string>;
}

export function parseCheckpointArgs(argv: readonly string[], switches: readonly string[] = []): CheckpointArgs {
  let source: string | undefined;
  let output: string | undefined;
  let dtype: string | undefined;
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("-")) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "-o" || a === "--output") output = value();
    else if (a === "--dtype") dtype = value();
    else if (switches.includes(a)) given.add(a);
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else if (source === undefined) source = a;
    else throw new UsageError(`unexpected argument '${a}' (one checkpoint at a time)`);
  }
  if (!source) throw new UsageError("missing the checkpoint directory or repo id");
  return { source, output, dtype, switches: given };
}
