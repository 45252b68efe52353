/**
 * A WebAssembly SIMD dot product over float32 vectors stored in a WebAssembly memory: `dot(a, b, n4)` sums
 * `n4` lanes of four floats from byte offsets `a` and `b`. Hand-assembled (34 instructions), no dependency.
 *
 * @internal
 */
const BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type: (i32, i32, i32) -> f32
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7d,
  // import env.mem memory min 1
  0x02, 0x0c, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01,
  // function 0 of type 0
  0x03, 0x02, 0x01, 0x00,
  // export "dot"
  0x07, 0x07, 0x01, 0x03, 0x64, 0x6f, 0x74, 0x00, 0x00,
  // code
  0x0a, 0x00 /* section size patched below */, 0x01, 0x00 /* body size patched below */,
  0x01, 0x01, 0x7b, // one v128 local (acc)
  0x02, 0x40, // block
  0x03, 0x40, // loop
  0x20, 0x02, 0x45, 0x0d, 0x01, // if n4 == 0 break
  0x20, 0x03, // acc
  0x20, 0x00, 0xfd, 0x00, 0x02, 0x00, // v128.load a
  0x20, 0x01, 0xfd, 0x00, 0x02, 0x00, // v128.load b
  0xfd, 0xe6, 0x01, // f32x4.mul
  0xfd, 0xe4, 0x01, // f32x4.add
  0x21, 0x03,
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // a += 16
  0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // b += 16
  0x20, 0x02, 0x41, 0x01, 0x6b, 0x21, 0x02, // n4 -= 1
  0x0c, 0x00, // continue
  0x0b, // end loop
  0x0b, // end block
  0x20, 0x03, 0xfd, 0x1f, 0x00,
  0x20, 0x03, 0xfd, 0x1f, 0x01, 0x92,
  0x20, 0x03, 0xfd, 0x1f, 0x02, 0x92,
  0x20, 0x03, 0xfd, 0x1f, 0x03, 0x92,
  0x0b, // end function
]);

function assemble(): Uint8Array {
  const b = BYTES.slice();
  const codeStart = b.indexOf(0x0a, 44);
  const bodyStart = codeStart + 4; // after section id, section size, count, body size
  b[codeStart + 3] = b.length - bodyStart; // body size
  b[codeStart + 1] = b.length - (codeStart + 2); // section size
  return b;
}

/** The subset of the WebAssembly API used here (declared structurally; not in the ES2022 lib). @internal */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}

/** A SIMD kernel bound to its memory. @internal */
export interface SimdDot {
  memory: WasmMemory;
  dot: (a: number, b: number, n4: number) => number;
}

/** Instantiates the kernel, or returns undefined when WebAssembly SIMD is unavailable. @internal */
export function createSimdDot(initialPages: number): SimdDot | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wasm === undefined) return undefined;
  try {
    const memory = new wasm.Memory({ initial: Math.max(1, initialPages) });
    const mod = new wasm.Module(assemble());
    const inst = new wasm.Instance(mod, { env: { mem: memory } });
    const dot = inst.exports.dot as (a: number, b: number, n4: number) => number;
    // self-check
    const f = new Float32Array(memory.buffer, 0, 8);
    f.set([1, 2, 3, 4, 5, 6, 7, 8]);
    if (dot(0, 16, 1) !== 70) return undefined;
    f.fill(0);
    return { memory, dot };
  } catch {
    return undefined;
  }
}
