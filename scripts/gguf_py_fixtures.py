"""gguf-py side of the GGUF interop fixtures (run by scripts/gguf-py-fixtures.ts, under /work/venv).

    python scripts/gguf_py_fixtures.py MOEKIT_WRITTEN.gguf OUT_DIR

Reads the file moekit wrote with gguf-py's GGUFReader and dumps gguf-py's view of it as JSON
(OUT_DIR/moekit-written.gguf-py.json); writes a file with gguf-py's GGUFWriter (every metadata type, a
nested array, tensors of every format moekit reads, quantized with gguf.quants where gguf-py can)
to OUT_DIR/gguf-py-written.gguf and dumps gguf-py's view of that too (OUT_DIR/gguf-py-written.json).
The JSON schema is test/helpers/gguf-crosscheck.ts's fileJson: 64-bit integers as decimal strings,
tensor data as SHA-256.
"""
import hashlib
import json
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V


def ggml_name(t: Q) -> str:
    n = t.name.lower()
    return n[:-2] + "_K" if n.endswith("_k") else n


def scalar(vtype: V, part):
    if vtype == V.STRING:
        return bytes(part).decode("utf-8")
    v = part.tolist()[0]
    if vtype in (V.UINT64, V.INT64):
        return str(int(v))
    if vtype == V.BOOL:
        return bool(v)
    if vtype in (V.FLOAT32, V.FLOAT64):
        return float(v)
    return int(v)


def walk_array(parts, i):
    """An array value starting at parts[i] (its element type): (json, next index)."""
    etype = V(int(parts[i][0]))
    count = int(parts[i + 1][0])
    i += 2
    values = []
    for _ in range(count):
        if etype == V.ARRAY:
            inner, i = walk_array(parts, i)
            values.append(inner)
        elif etype == V.STRING:
            values.append(scalar(V.STRING, parts[i + 1]))
            i += 2
        else:
            values.append(scalar(etype, parts[i]))
            i += 1
    return {"type": etype.name.lower(), "values": values}, i


def view(path: str):
    r = gguf.GGUFReader(path)
    metadata = {}
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        vtype = f.types[0]
        if vtype == V.ARRAY:
            arr, _ = walk_array(f.parts, 3)
            metadata[key] = {"type": "array", "value": arr}
        else:
            metadata[key] = {"type": vtype.name.lower(), "value": scalar(vtype, f.parts[-1])}
    raw = open(path, "rb").read()
    tensors = []
    for t in sorted(r.tensors, key=lambda t: t.data_offset):
        data = raw[t.data_offset : t.data_offset + t.n_bytes]
        tensors.append({
            "name": t.name, "type": ggml_name(t.tensor_type), "dims": [int(d) for d in t.shape],
            "offset": int(t.data_offset - r.data_offset), "bytes": int(t.n_bytes), "sha256": hashlib.sha256(data).hexdigest(),
        })
    return {"alignment": int(r.alignment), "data_offset": int(r.data_offset), "metadata": metadata, "tensors": tensors}


def write_gguf_py(path: str):
    w = gguf.GGUFWriter(path, "gguf-py-test")
    w.add_name("written by gguf-py ✓ 名前")
    kv = [
        ("p.u8", 250, V.UINT8), ("p.i8", -120, V.INT8), ("p.u16", 65000, V.UINT16), ("p.i16", -32000, V.INT16),
        ("p.u32", 4294967000, V.UINT32), ("p.i32", -2147483000, V.INT32), ("p.f32", -0.375, V.FLOAT32),
        ("p.f64", 1.0 / 3.0, V.FLOAT64), ("p.u64", 2**64 - 2, V.UINT64), ("p.i64", -(2**63) + 5, V.INT64),
        ("p.bool", True, V.BOOL), ("p.str", "gguf-py 🙂", V.STRING),
    ]
    for key, val, vt in kv:
        w.add_key_value(key, val, vt)
    w.add_key_value("p.arr.u8", [0, 255, 7], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("p.arr.i32", [-1, 2, 3], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("p.arr.f32", [0.25, -8.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("p.arr.u64", [1, 2**63], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("p.arr.bool", [False, True, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("p.arr.str", ["Ġa", "", "<s>"], V.ARRAY, sub_type=V.STRING)
    w.add_key_value("p.arr.nested", [[1, 2, 3], [4], [5, 6]], V.ARRAY)
    w.add_key_value("p.arr.nested_str", [["x", "y"], ["z"]], V.ARRAY)

    rng = np.random.default_rng(1234)
    w.add_tensor("t.f32", rng.standard_normal((3, 4)).astype(np.float32))
    w.add_tensor("t.f16", rng.standard_normal((2, 8)).astype(np.float16))
    for name, qtype, shape in [
        ("t.bf16", Q.BF16, (2, 16)), ("t.q8_0", Q.Q8_0, (2, 64)), ("t.q4_0", Q.Q4_0, (3, 32)), ("t.q5_0", Q.Q5_0, (1, 64)),
        ("t.q4_k", Q.Q4_K, (2, 256)), ("t.q6_k", Q.Q6_K, (1, 256)), ("t.mxfp4", Q.MXFP4, (2, 64)),
    ]:
        x = rng.standard_normal(shape).astype(np.float32)
        try:
            q = gguf.quants.quantize(x, qtype)
        except NotImplementedError:
            bs, ts = gguf.GGML_QUANT_SIZES[qtype]
            q = rng.integers(0, 256, size=(shape[0], shape[1] // bs * ts), dtype=np.uint8)
            # finite f16 scales (the first two bytes of a K block, the last two of Q6_K)
            q = q.reshape(shape[0], -1, ts)
            q[..., ts - 1 if qtype == Q.Q6_K else 1] &= 0x3F
            q = q.reshape(shape[0], -1)
        w.add_tensor(name, q, raw_dtype=qtype)
    w.add_tensor("t.i32", np.array([1, -2, 3, -4], dtype=np.int32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    moekit_file, out = sys.argv[1], sys.argv[2]
    with open(f"{out}/moekit-written.gguf-py.json", "w") as f:
        json.dump(view(moekit_file), f, indent=1, ensure_ascii=False)
        f.write("\n")
    write_gguf_py(f"{out}/gguf-py-written.gguf")
    with open(f"{out}/gguf-py-written.json", "w") as f:
        json.dump(view(f"{out}/gguf-py-written.gguf"), f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("gguf-py", gguf.__version__ if hasattr(gguf, "__version__") else "", "read the moekit file and wrote its own")
