/** bin/stale-build.js: the CLI warns when it would run a dist/ older than the sources beside it. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
// @ts-expect-error: a plain ES module of the CLI launcher (no types)
import { newerSource } from "../../bin/stale-build.js";

function checkout(files: Record<string, number>): string {
  const root = mkdtempSync(join(tmpdir(), "moekit-stale-"));
  for (const [file, at] of Object.entries(files)) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), "");
    utimesSync(join(root, file), at, at);
  }
  return root;
}

describe("newerSource", () => {
  it("names the newest source changed after dist/ was built", () => {
    const root = checkout({ "dist/cli/main.js": 2000, "src/a.ts": 1000, "src/models/b.ts": 3000, "src/models/c.ts": 2500 });
    assert.equal(newerSource(root), join("models", "b.ts"));
  });
  it("is undefined when dist/ is newer than every source, or the sources or dist/ are absent", () => {
    assert.equal(newerSource(checkout({ "dist/cli/main.js": 2000, "src/a.ts": 1000, "src/x/b.ts": 1999 })), undefined);
    assert.equal(newerSource(checkout({ "dist/cli/main.js": 2000 })), undefined); // an installed package: no src/
    assert.equal(newerSource(checkout({ "src/a.ts": 1000 })), undefined); // no dist/: the launcher says so itself
  });
  it("looks at TypeScript sources only", () => {
    assert.equal(newerSource(checkout({ "dist/cli/main.js": 2000, "src/a.ts": 1000, "src/notes.md": 5000 })), undefined);
  });
});
