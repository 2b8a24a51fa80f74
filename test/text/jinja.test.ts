import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderTemplate } from "../../src/text/jinja.js";
import { strftime } from "../../src/text/strftime.js";
import { CHAT, expected } from "./chat-fixtures.js";

interface Snippet {
  name: string;
  source: string;
  variables: Record<string, unknown>;
  supported: boolean;
}

const snippets = JSON.parse(readFileSync(join(CHAT, "jinja-snippets.json"), "utf8")) as Snippet[];

describe("Jinja as transformers runs it (Python's Jinja2 in its sandbox), one feature at a time", () => {
  const python = new Map(expected.jinja.map((j) => [j.name, j]));
  for (const s of snippets.filter((x) => x.supported)) {
    it(s.name, () => {
      const want = python.get(s.name)!;
      assert.ok(want, `${s.name} has a Python rendering`);
      const render = () => renderTemplate(s.source, s.variables, { now: () => new Date(2025, 2, 7, 9, 30) });
      if (want.error !== undefined) assert.throws(render);
      else assert.equal(render(), want.text);
    });
  }

  it("the unsupported features are the documented ones", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "text.md"), "utf8");
    for (const s of snippets.filter((x) => !x.supported)) assert.ok(doc.includes(`\`${s.name}\``), `docs/text.md lists '${s.name}'`);
  });
});

describe("strftime_now formats in the C locale", () => {
  it("names months and days in English whatever the runtime's locale", () => {
    const d = new Date(2025, 2, 7, 9, 5, 3);
    assert.equal(strftime(d, "%Y-%m-%d %H:%M:%S"), "2025-03-07 09:05:03");
    assert.equal(strftime(d, "%B %d, %Y"), "March 07, 2025");
    assert.equal(strftime(d, "%d %b %Y (%A, %a) %j %I%p %-d %%"), "07 Mar 2025 (Friday, Fri) 066 09AM 7 %");
  });
});
