// How much memory an ONNX graph's weights take once ONNX Runtime holds them, read from the file
// without loading it: a streaming walk over the protobuf that reads each initializer's dims and
// data type and skips its bytes, so a 1.7 GB UNet costs a few thousand small reads. File sizes
// alone mislead for fp16 models: ORT's CPU provider upcasts fp16 weights to float32, so an fp16
// folder holds about what the float32 one does (scripts/measure-precision.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface WeightBytes {
  /** Bytes of the initializers as stored (inline or external data). */
  stored: number;
  /** Bytes once loaded on CPU: fp16 and bf16 weights count as float32. */
  resident: number;
  /** Number of initializer tensors seen. */
  tensors: number;
}

/** TensorProto.DataType → bytes per element as stored (0: variable, e.g. strings). */
const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  1: 4, // FLOAT
  2: 1, // UINT8
  3: 1, // INT8
  4: 2, // UINT16
  5: 2, // INT16
  6: 4, // INT32
  7: 8, // INT64
  8: 0, // STRING
  9: 1, // BOOL
  10: 2, // FLOAT16
  11: 8, // DOUBLE
  12: 4, // UINT32
  13: 8, // UINT64
  14: 8, // COMPLEX64
  15: 16, // COMPLEX128
  16: 2, // BFLOAT16
  17: 1, // FLOAT8E4M3FN
  18: 1, // FLOAT8E4M3FNUZ
  19: 1, // FLOAT8E5M2
  20: 1, // FLOAT8E5M2FNUZ
  21: 0.5, // UINT4
  22: 0.5, // INT4
};
const HALF_FLOATS = new Set([10, 16]);

/** Reads a file at arbitrary positions through one small buffer. */
export class Cursor {
  private readonly buf = Buffer.alloc(64 * 1024);
  private bufStart = 0;
  private bufEnd = 0;
  pos = 0;
  constructor(private readonly fd: number) {}

  byte(): number {
    if (this.pos < this.bufStart || this.pos >= this.bufEnd) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.pos);
      if (n === 0) throw new Error(`unexpected end of file at byte ${this.pos}`);
      this.bufStart = this.pos;
      this.bufEnd = this.pos + n;
    }
    return this.buf[this.pos++ - this.bufStart];
  }

  /** A varint as a Number: exact up to 2^53, which covers every length and dim in practice. */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error(`varint longer than 10 bytes at byte ${this.pos}`);
  }

  /** Skips the value of a field of this wire type. */
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const length = this.varint();
      this.pos += length;
    } else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire} at byte ${this.pos}`);
  }
}

/** Calls `onField` for each field in [cursor.pos, end); it must consume the field's value. */
export function fields(c: Cursor, end: number, onField: (field: number, wire: number) => void): void {
  while (c.pos < end) {
    const tag = c.varint();
    onField(Math.floor(tag / 8), tag % 8);
  }
  if (c.pos !== end) throw new Error(`a field runs past its message at byte ${c.pos}`);
}

/** Enters a length-delimited field: returns where it ends. */
export function enter(c: Cursor, wire: number): number {
  if (wire !== 2) throw new Error(`expected a length-delimited field at byte ${c.pos}`);
  const length = c.varint();
  return c.pos + length;
}

// TensorProto: dims 1 (int64, packed or not), data_type 2, raw_data 9. Typed data fields and
// external data need no reading: the element count follows from dims.
function tensor(c: Cursor, end: number, total: WeightBytes): void {
  let count = 1;
  let type = 0;
  fields(c, end, (field, wire) => {
    if (field === 1 && wire === 0) count *= c.varint();
    else if (field === 1 && wire === 2) {
      const stop = enter(c, wire);
      while (c.pos < stop) count *= c.varint();
    } else if (field === 2 && wire === 0) type = c.varint();
    else c.skip(wire);
  });
  const size = ELEMENT_BYTES[type] ?? 0;
  total.stored += count * size;
  total.resident += count * (HALF_FLOATS.has(type) ? 4 : size);
  total.tensors += 1;
}

// GraphProto: initializer 5 (TensorProto), sparse_initializer 15 (SparseTensorProto: values 1,
// indices 2, both TensorProto). Constant nodes are not counted: exporters fold weights into
// initializers and leave only small constants in nodes.
function graph(c: Cursor, end: number, total: WeightBytes): void {
  fields(c, end, (field, wire) => {
    if (field === 5) tensor(c, enter(c, wire), total);
    else if (field === 15) {
      fields(c, enter(c, wire), (f, w) => {
        if (f === 1 || f === 2) tensor(c, enter(c, w), total);
        else c.skip(w);
      });
    } else c.skip(wire);
  });
}

/**
 * Sums the initializers of the ONNX model at `path` (ModelProto.graph is field 7). Throws on a
 * file that is not a well-formed ModelProto; callers fall back to file sizes.
 */
export function onnxWeightBytes(path: string): WeightBytes {
  const fd = openSync(path, 'r');
  try {
    const c = new Cursor(fd);
    const total: WeightBytes = { stored: 0, resident: 0, tensors: 0 };
    let graphs = 0;
    const end = fstatSync(fd).size;
    fields(c, end, (field, wire) => {
      if (field === 7) {
        graph(c, enter(c, wire), total);
        graphs += 1;
      } else c.skip(wire);
    });
    if (graphs === 0) throw new Error('no graph in the file');
    return total;
  } finally {
    closeSync(fd);
  }
}
