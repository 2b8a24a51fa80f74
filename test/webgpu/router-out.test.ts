/** The router_out fixture MoE blocks (llama4, jetmoe) on webgpu; skips when no WebGPU adapter can be created. */
import { after, describe, it } from "node:test";
import { FAMILIES, TOP_K_FAMILIES } from "../helpers/fixtures.js";
import { ROUTER_OUT_CHECKS } from "../helpers/router-out.js";
import { webgpuOrSkip } from "./setup.js";

const { backend: gpu, skip } = await webgpuOrSkip();

if (skip) {
  it("webgpu router_out fixture blocks", { skip }, () => {});
} else {
  const b = gpu!;
  after(() => b.destroy());
  for (const family of FAMILIES.filter((f) => !TOP_K_FAMILIES.includes(f))) {
    describe(`webgpu: MoE block of ${family} matches transformers' router_out captures`, () => {
      for (const impl of ["eager", "batched_mm", "grouped_mm"]) {
        it(`${impl}: routing (as sets), experts and block output`, async () => {
          const check = ROUTER_OUT_CHECKS[family];
          if (!check) throw new Error(`no router_out check for ${family}`);
          await check(b, impl);
        });
      }
    });
  }
}
