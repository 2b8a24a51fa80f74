/**
 * Every backend op's argument checks and derived dims, in one place: the reference, cpu and webgpu
 * backends call `<op>Args(...)` first and compute with what it returns. Checks that need index values
 * (offsets, ids, rows) run whenever those tensors are in host memory.
 */
export * from "./tensors.js";
export * from "./products.js";
export * from "./experts.js";
export * from "./routing.js";
export * from "./elementwise.js";
export * from "./shape-ops.js";
export * from "./layers.js";
export * from "./recurrent.js";
export * from "./ssm-scan.js";
