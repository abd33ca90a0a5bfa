// run.mjs - node runner of `tally bench interp` (docs/benchmarks.md): instantiates one benchmark
// program (it imports nothing), calls its export `run` once and prints one line:
//   RESULT SECONDS
// RESULT as an unsigned decimal (i32 and i64 alike, as wabt's wasm-interp prints them), SECONDS
// the wall time of the call alone (compilation and instantiation excluded).
// Usage: node run.mjs FILE.wasm
import { readFileSync } from 'node:fs';

const bytes = readFileSync(process.argv[2]);
const { instance } = await WebAssembly.instantiate(bytes, {});
const t0 = process.hrtime.bigint();
const r = instance.exports.run();
const t1 = process.hrtime.bigint();
const v = typeof r === 'bigint' ? BigInt.asUintN(64, r) : r >>> 0;
console.log(`${v} ${Number(t1 - t0) / 1e9}`);
