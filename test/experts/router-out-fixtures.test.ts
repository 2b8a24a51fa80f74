import { describe, it } from "node:test";
import { referenceBackend } from "../../src/backends/reference/index.js";
import { FAMILIES, TOP_K_FAMILIES } from "../helpers/fixtures.js";
import { ROUTER_OUT_CHECKS } from "../helpers/router-out.js";
import { optionalCpu } from "../helpers/optional-cpu.js";

const { cpu } = await optionalCpu();

for (const family of FAMILIES.filter((f) => !TOP_K_FAMILIES.includes(f))) {
  describe(`MoE block of ${family} matches transformers' router_out captures`, () => {
    for (const [name, backend] of [["reference", referenceBackend], ["cpu", cpu]] as const) {
      for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
        it(`${name} ${impl}: routing (as sets), experts and block output`, { skip: backend ? false : "cpu backend unavailable" }, async () => {
          const check = ROUTER_OUT_CHECKS[family];
          if (!check) throw new Error(`no router_out check for ${family}`);
          await check(backend!, impl);
        });
      }
    }
  });
}
