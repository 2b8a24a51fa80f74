/** The addon's format table (native/src/formats.h) agrees with src/formats/table.ts. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FORMATS, formatByCode } from "../../src/formats/table.js";
import { cpu } from "./helpers.js";

test("native formats(): every format the addon knows has the table's code and block layout", () => {
  const native = cpu().native.formats();
  assert.ok(native.length >= 4);
  for (const f of native) {
    const row = formatByCode(f.code);
    assert.equal(row.name, f.name, `code ${f.code}`);
    assert.equal(row.blockElems, f.blockElems, f.name);
    assert.equal(row.blockBytes, f.blockBytes, f.name);
    assert.equal(f.weight, row.float, `${f.name}: the addon reads float formats as weights`);
  }
  const names = native.map((f) => f.name);
  assert.equal(new Set(native.map((f) => f.code)).size, native.length, "codes are distinct");
  for (const name of ["float32", "bfloat16", "float16", "int32"] as const) assert.ok(names.includes(name), `${name} (code ${FORMATS[name].code}) is known to the addon`);
});
