/** The benchmark grid: "BxS" points (batch × sequence length), comma-separated. */
export interface GridPoint {
  batch: number;
  seq: number;
}

/** transformers' experts table: batch {1, 4} × sequence {16, 128}. */
export const DEFAULT_GRID = "1x16,1x128,4x16,4x128";

export function parseGrid(text: string): GridPoint[] {
  if (typeof text !== "string" || text.trim() === "") throw new Error(`--grid must list points like ${DEFAULT_GRID} (got an empty value)`);
  const points: GridPoint[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    const m = /^(\d+)\s*[xX×]\s*(\d+)$/.exec(item);
    if (!m) throw new Error(`--grid: '${item}' is not a point like 4x128 (batch x sequence length); expected e.g. ${DEFAULT_GRID},1x1`);
    const batch = Number(m[1]);
    const seq = Number(m[2]);
    if (batch < 1 || seq < 1) throw new Error(`--grid: '${item}' needs a batch and a sequence length of at least 1`);
    if (!Number.isSafeInteger(batch * seq) || batch * seq > 1 << 20) throw new Error(`--grid: '${item}' has ${batch * seq} tokens, more than 1048576`);
    const key = `${batch}x${seq}`;
    if (seen.has(key)) throw new Error(`--grid: '${key}' is listed twice`);
    seen.add(key);
    points.push({ batch, seq });
  }
  return points;
}

export function gridLabel(p: GridPoint): string {
  return `${p.batch}x${p.seq}`;
}
