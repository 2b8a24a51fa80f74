import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, it } from "node:test";

/** Top-level folder under src/ of every relative import (static or dynamic) of each file in `folder`. */
function importedFolders(folder: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of readdirSync(join("src", folder), { recursive: true }).map(String)) {
    if (!f.endsWith(".ts")) continue;
    const file = join("src", folder, f);
    const specs = [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1]!);
    for (const s of specs) {
      const top = relative("src", join(dirname(file), s)).split("/")[0]!.replace(/\.js$/, "");
      out.set(top, [...(out.get(top) ?? []), file]);
    }
  }
  return out;
}

/** Data flows one way: checkpoint → model → generation → the public entries of src/pretrained. */
describe("layering", () => {
  it("models import neither generation nor pretrained", () => {
    const folders = importedFolders("models");
    assert.ok(folders.has("backends") && folders.has("experts"), "the imports were really read");
    assert.deepEqual(folders.get("generation") ?? [], [], "models → generation");
    assert.deepEqual(folders.get("pretrained") ?? [], [], "models → pretrained");
  });

  it("generation imports models but not pretrained", () => {
    const folders = importedFolders("generation");
    assert.ok(folders.has("models"), "the loop takes the model's cache type from models");
    assert.deepEqual(folders.get("pretrained") ?? [], [], "generation → pretrained");
  });
});
