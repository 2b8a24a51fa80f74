/** `moekit bench`: the benchmark table (see src/bench/ and `moekit bench --help`). */
import { writeFile } from "node:fs/promises";
import { runBench } from "../bench/engine.js";
import { markdownReport } from "../bench/format-markdown.js";
import { modelReport } from "../bench/model-table.js";
import { latencySvg } from "../bench/format-svg.js";
import { BENCH_USAGE, parseBenchArgs } from "../bench/options.js";
import { createProgress } from "../bench/progress.js";
import { checkOutputFile } from "./output-path.js";

/** Run `moekit bench` with these arguments; resolves to the exit code. */
export async function benchCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
    for (const [flag, path] of Object.entries(parsed.outputs)) if (path !== undefined && !(flag === "json" && path === "-")) await checkOutputFile(`--${flag}`, path);
  } catch (e) {
    process.stderr.write(`moekit bench: ${(e as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const { options, outputs } = parsed;
  const progress = createProgress();
  try {
    const report = await runBench(options, { note: (l) => progress.note(l), progress: (d, t, l) => progress.update(d, t, l) });
    progress.end();
    const md = report.modelRows ? modelReport(report.modelRows, report.notes) : markdownReport(report.records, report.ceilings);
    const json = `${JSON.stringify(report.modelRows ?? report.records, null, 2)}\n`;
    if (outputs.json === "-") process.stdout.write(json);
    else process.stdout.write(md);
    if (outputs.json && outputs.json !== "-") await writeFile(outputs.json, json);
    if (outputs.markdown) await writeFile(outputs.markdown, md);
    if (outputs.svg && !report.modelRows) await writeFile(outputs.svg, latencySvg(report.records));
    return 0;
  } catch (e) {
    progress.end();
    process.stderr.write(`moekit bench: ${(e as Error).message}\n`);
    return 1;
  }
}
