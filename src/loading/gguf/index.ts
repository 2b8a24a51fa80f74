/** GGUF files: reader, writer, value types and the ggml tensor types. */
export { GgufFile, type GgufTensorInfo, type GgufOpenOptions, GGUF_DEFAULT_ALIGNMENT } from "./reader.js";
export { ggufLayout, encodeGguf, writeGgufStream, type GgufTensorSpec, type GgufTensorData, type GgufLayout, type GgufSink } from "./writer.js";
export { ggmlType, ggmlTypeOf, moekitGgufFormats, type GgmlType } from "./ggml-types.js";
export type { GgufValue, GgufArray, GgufMetadata, GgufType } from "./values.js";
