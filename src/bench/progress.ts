/** A one-line progress bar on stderr (cli-progress), drawn only when stderr is a TTY (silent in pipes, CI and tests). */
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, total: number, label: string): void;
  /** print a line above the bar */
  note(line: string): void;
  end(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  // cli-progress draws nothing on a non-TTY stream unless asked to, and its log() prints above the bar.
  const bars = new cliProgress.MultiBar(
    { stream, format: "[{bar}] {value}/{total} {duration}s {label}", barsize: 24, hideCursor: true, clearOnComplete: true, noTTYOutput: false },
    cliProgress.Presets.legacy,
  );
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done, total, label) {
      if (!stream.isTTY) return;
      bar ??= bars.create(total, 0, { label });
      bar.setTotal(total);
      bar.update(done, { label });
    },
    note(line) {
      if (stream.isTTY && bar) bars.log(`${line}\n`);
      else stream.write(`${line}\n`);
    },
    end() {
      bars.stop();
    },
  };
}
