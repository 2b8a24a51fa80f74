/** The `moekit` command line: subcommands are loaded only when used. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {};

/** Register a subcommand (each command module registers itself in commands.ts). */
export function defineCommand(name: string, summary: string, load: () => Promise<Command>): void {
  COMMANDS[name] = { summary, load };
}

export function version(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ["../..", ".."]) {
    try {
      return (JSON.parse(readFileSync(join(here, up, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      // try the next location (src/cli and dist/cli sit at the same depth)
    }
  }
  return "unknown";
}

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 4);
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    "moekit — Mixture-of-Experts models in TypeScript",
    "",
    "Usage: moekit <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Options:",
    "  -h, --help     show this help (or `moekit <command> --help`)",
    "  -v, --version  print the version",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  await import("./commands.js");
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help" || first === "help") {
    console.log(usage());
    return first === undefined ? 1 : 0;
  }
  if (first === "-v" || first === "--version") {
    console.log(version());
    return 0;
  }
  const cmd = COMMANDS[first];
  if (!cmd) {
    console.error(`moekit: unknown command '${first}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await cmd.load())(rest);
  } catch (e) {
    console.error(`moekit ${first}: ${(e as Error).message}`);
    return 1;
  }
}
