/** A one-line progress bar on stderr, drawn only when stderr is a TTY (silent in pipes, CI and tests). */
export interface Progress {
  update(done: number, total: number, label: string): void;
  /** print a line above the bar */
  note(line: string): void;
  end(): void;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  const started = Date.now();
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write("\r\x1b[2K");
    drawn = false;
  };
  return {
    update(done, total, label) {
      if (!tty) return;
      const width = 24;
      const filled = total > 0 ? Math.round((width * done) / total) : 0;
      const secs = ((Date.now() - started) / 1000).toFixed(0);
      const cols = stream.columns ?? 80;
      const text = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${secs}s ${label}`;
      stream.write(`\r\x1b[2K${text.slice(0, cols - 1)}`);
      drawn = true;
    },
    note(line) {
      clear();
      stream.write(`${line}\n`);
    },
    end() {
      clear();
    },
  };
}
