/**
 * The ONNX model of the peer: per layer one com.microsoft.MoE node (onnxruntime 1.30 contract) computing
 * Qwen's gated-SiLU experts, out = Σ_k w_k · down_e(silu(gate_e(x)) · up_e(x)):
 *   activation_type "swiglu" with swiglu_fusion 1 (the only SwiGLU form the CPU EP runs; FC3 is not
 *   implemented there): FC1 computes gate and up in one GEMM, rows interleaved [gate_0, up_0, gate_1, ...];
 *   activation_alpha 1, activation_beta 0 and no swiglu_limit (no clamp) make the op's
 *   G·sigmoid(alpha·G)·(L + beta) exactly silu(gate)·up;
 *   normalize_routing_weights 1: softmax over router_probs, top-k, the k probabilities renormalised.
 * Layouts (the non-legacy ones of 1.30): fc1_experts_weights [E, 2I, H], fc2_experts_weights [E, H, I]
 * (both out × in per expert, like nn.Linear weights); input [T, H], router_probs [T, E], output [T, H].
 * Layers all read the same input and have their own router_probs, weights and output.
 */
import { bytesOf, type ExternalTensor, type OnnxModel, type OnnxNode, type ValueInfo } from "./onnx-model.js";

export interface MoeDims {
  hidden: number;
  intermediate: number;
  experts: number;
  topK: number;
}

/** The experts layer of Qwen1.5-MoE-A2.7B. */
export const QWEN15_MOE_EXPERTS: MoeDims = { hidden: 2048, intermediate: 1408, experts: 60, topK: 4 };

/** Weight dtypes the CPU EP's MoE kernel is registered for (float and MLFloat16; no bfloat16). */
export const PEER_DTYPES = ["float32", "float16"] as const;
export type PeerDtype = (typeof PEER_DTYPES)[number];

/** initializers: constant weights in external data files; inputs: fed as graph inputs on every run. */
export const WEIGHT_PLACEMENTS = ["initializers", "inputs"] as const;
export type WeightPlacement = (typeof WEIGHT_PLACEMENTS)[number];

export interface MoeModelSpec {
  dims: MoeDims;
  dtype: PeerDtype;
  layers: number;
  placement: WeightPlacement;
  /** the external data file, relative to the model's folder (initializers only) */
  dataFile: string;
}

export const MOE_OP = { opType: "MoE", domain: "com.microsoft" } as const;
const TOKENS = "tokens";
/** Offsets of tensors in the data file are multiples of this (the page size, so that it can be mapped). */
export const DATA_ALIGNMENT = 4096;

export function fc1Name(layer: number): string {
  return `fc1_experts_weights_${layer}`;
}

export function fc2Name(layer: number): string {
  return `fc2_experts_weights_${layer}`;
}

export function routerName(layer: number): string {
  return `router_probs_${layer}`;
}

export function outputName(layer: number): string {
  return `output_${layer}`;
}

export function checkDims(d: MoeDims): void {
  for (const k of ["hidden", "intermediate", "experts", "topK"] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 1) throw new Error(`MoE dims: ${k} must be a positive integer, got ${d[k]}`);
  }
  if (d.topK > d.experts) throw new Error(`MoE dims: topK ${d.topK} exceeds experts ${d.experts}`);
}

/** Where each layer's FC1 and FC2 weights sit in the data file: in layer order, page-aligned. */
export function weightTensors(spec: Omit<MoeModelSpec, "placement">): ExternalTensor[] {
  const { hidden: h, intermediate: i, experts: e } = spec.dims;
  const out: ExternalTensor[] = [];
  let offset = 0;
  for (let l = 0; l < spec.layers; l++) {
    for (const [name, dims] of [[fc1Name(l), [e, 2 * i, h]], [fc2Name(l), [e, h, i]]] as const) {
      const length = dims[0] * dims[1] * dims[2] * bytesOf(spec.dtype);
      out.push({ name, dtype: spec.dtype, dims: [...dims], location: spec.dataFile, offset, length });
      offset += Math.ceil(length / DATA_ALIGNMENT) * DATA_ALIGNMENT;
    }
  }
  return out;
}

export function moeNode(layer: number, topK: number): OnnxNode {
  return {
    ...MOE_OP,
    name: `moe_${layer}`,
    // inputs by position: input, router_probs, fc1_experts_weights, fc1_experts_bias (absent), fc2_experts_weights
    inputs: ["input", routerName(layer), fc1Name(layer), "", fc2Name(layer)],
    outputs: [outputName(layer)],
    attributes: {
      k: { type: "int", value: topK },
      activation_type: { type: "string", value: "swiglu" },
      swiglu_fusion: { type: "int", value: 1 },
      activation_alpha: { type: "float", value: 1 },
      activation_beta: { type: "float", value: 0 },
      normalize_routing_weights: { type: "int", value: 1 },
    },
  };
}

export function moeModel(spec: MoeModelSpec): OnnxModel {
  checkDims(spec.dims);
  if (!Number.isInteger(spec.layers) || spec.layers < 1) throw new Error(`MoE model: layers must be a positive integer, got ${spec.layers}`);
  const { hidden: h, experts: e, topK } = spec.dims;
  const weights = weightTensors(spec);
  const inputs: ValueInfo[] = [{ name: "input", dtype: spec.dtype, shape: [TOKENS, h] }];
  const outputs: ValueInfo[] = [];
  const nodes: OnnxNode[] = [];
  for (let l = 0; l < spec.layers; l++) {
    inputs.push({ name: routerName(l), dtype: spec.dtype, shape: [TOKENS, e] });
    outputs.push({ name: outputName(l), dtype: spec.dtype, shape: [TOKENS, h] });
    nodes.push(moeNode(l, topK));
  }
  if (spec.placement === "inputs") inputs.push(...weights.map((w) => ({ name: w.name, dtype: w.dtype, shape: w.dims })));
  return {
    irVersion: 10,
    opsets: [{ domain: "", version: 21 }, { domain: MOE_OP.domain, version: 1 }],
    producerName: "moekit-bench",
    producerVersion: "1",
    graph: { name: "moe_experts", nodes, inputs, outputs, initializers: spec.placement === "initializers" ? weights : [] },
  };
}
