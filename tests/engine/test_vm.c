/* test_vm.c - unit tests of the compiler, VM and instances beyond the spec testsuite: call-depth
 * and value-slot limits (deterministic), memory.grow at the configured limit, NaN
 * canonicalization of every F_CANON instruction and bit-exactness of abs/neg/copysign, pause and
 * resume, allocation failure at every allocation site of compile + instantiate.
 *
 * The test modules are byte arrays made with wabt's wat2wasm; their text is in the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine.h"
#include "test_util.h"

/* rec.wasm, made with wat2wasm from:
 *   (module
 *     (func $f (export "f") (param i32) (result i32)
 *       local.get 0 i32.const 1 i32.add call $f)
 *     (func $big (export "big") (param i32) (result i32)
 *       (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
 *       local.get 0 i32.const 1 i32.add call $big)
 *     (func $fac (export "fac") (param i64) (result i64)
 *       local.get 0 i64.eqz
 *       if (result i64) i64.const 1
 *       else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end))
 */
static const uint8_t wasm_rec[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0b, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x60, 0x01, 0x7e, 0x01, 0x7e, 0x03, 0x04, 0x03, 0x00, 0x00, 0x01, 0x07, 0x11, 0x03, 0x01, 0x66,
    0x00, 0x00, 0x03, 0x62, 0x69, 0x67, 0x00, 0x01, 0x03, 0x66, 0x61, 0x63, 0x00, 0x02, 0x0a, 0x2d,
    0x03, 0x09, 0x00, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x10, 0x00, 0x0b, 0x0b, 0x01, 0x14, 0x7e, 0x20,
    0x00, 0x41, 0x01, 0x6a, 0x10, 0x01, 0x0b, 0x15, 0x00, 0x20, 0x00, 0x50, 0x04, 0x7e, 0x42, 0x01,
    0x05, 0x20, 0x00, 0x20, 0x00, 0x42, 0x01, 0x7d, 0x10, 0x02, 0x7e, 0x0b, 0x0b,
};

/* grow.wasm, made with wat2wasm from:
 *   (module
 *     (memory 1)
 *     (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
 *     (func (export "size") (result i32) memory.size)
 *     (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
 *     (func (export "load") (param i32) (result i32) local.get 0 i32.load))
 */
static const uint8_t wasm_grow[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0f, 0x03, 0x60, 0x01, 0x7f, 0x01,
    0x7f, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x03, 0x05, 0x04, 0x00, 0x01,
    0x02, 0x00, 0x05, 0x03, 0x01, 0x00, 0x01, 0x07, 0x1e, 0x04, 0x04, 0x67, 0x72, 0x6f, 0x77,
    0x00, 0x00, 0x04, 0x73, 0x69, 0x7a, 0x65, 0x00, 0x01, 0x05, 0x73, 0x74, 0x6f, 0x72, 0x65,
    0x00, 0x02, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x03, 0x0a, 0x1f, 0x04, 0x06, 0x00, 0x20,
    0x00, 0x40, 0x00, 0x0b, 0x04, 0x00, 0x3f, 0x00, 0x0b, 0x09, 0x00, 0x20, 0x00, 0x20, 0x01,
    0x36, 0x02, 0x00, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b,
};

/* growmax.wasm, made with wat2wasm from:
 *   (module
 *     (memory 1 3)
 *     (func (export "grow") (param i32) (result i32) local.get 0 memory.grow))
 */
static const uint8_t wasm_growmax[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00, 0x05, 0x04, 0x01, 0x01, 0x01, 0x03, 0x07, 0x08, 0x01, 0x04, 0x67, 0x72,
    0x6f, 0x77, 0x00, 0x00, 0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b,
};

/* canon.wasm, made with wat2wasm from:
 *   (module
 *     (func (export "f32.ceil") (param f32) (result f32) local.get 0 f32.ceil)
 *     (func (export "f32.floor") (param f32) (result f32) local.get 0 f32.floor)
 *     (func (export "f32.trunc") (param f32) (result f32) local.get 0 f32.trunc)
 *     (func (export "f32.nearest") (param f32) (result f32) local.get 0 f32.nearest)
 *     (func (export "f32.sqrt") (param f32) (result f32) local.get 0 f32.sqrt)
 *     (func (export "f32.abs") (param f32) (result f32) local.get 0 f32.abs)
 *     (func (export "f32.neg") (param f32) (result f32) local.get 0 f32.neg)
 *     (func (export "f32.add") (param f32 f32) (result f32) local.get 0 local.get 1 f32.add)
 *     (func (export "f32.sub") (param f32 f32) (result f32) local.get 0 local.get 1 f32.sub)
 *     (func (export "f32.mul") (param f32 f32) (result f32) local.get 0 local.get 1 f32.mul)
 *     (func (export "f32.div") (param f32 f32) (result f32) local.get 0 local.get 1 f32.div)
 *     (func (export "f32.min") (param f32 f32) (result f32) local.get 0 local.get 1 f32.min)
 *     (func (export "f32.max") (param f32 f32) (result f32) local.get 0 local.get 1 f32.max)
 *     (func (export "f32.copysign") (param f32 f32) (result f32) local.get 0 local.get 1 f32.copysign)
 *     (func (export "f64.ceil") (param f64) (result f64) local.get 0 f64.ceil)
 *     (func (export "f64.floor") (param f64) (result f64) local.get 0 f64.floor)
 *     (func (export "f64.trunc") (param f64) (result f64) local.get 0 f64.trunc)
 *     (func (export "f64.nearest") (param f64) (result f64) local.get 0 f64.nearest)
 *     (func (export "f64.sqrt") (param f64) (result f64) local.get 0 f64.sqrt)
 *     (func (export "f64.abs") (param f64) (result f64) local.get 0 f64.abs)
 *     (func (export "f64.neg") (param f64) (result f64) local.get 0 f64.neg)
 *     (func (export "f64.add") (param f64 f64) (result f64) local.get 0 local.get 1 f64.add)
 *     (func (export "f64.sub") (param f64 f64) (result f64) local.get 0 local.get 1 f64.sub)
 *     (func (export "f64.mul") (param f64 f64) (result f64) local.get 0 local.get 1 f64.mul)
 *     (func (export "f64.div") (param f64 f64) (result f64) local.get 0 local.get 1 f64.div)
 *     (func (export "f64.min") (param f64 f64) (result f64) local.get 0 local.get 1 f64.min)
 *     (func (export "f64.max") (param f64 f64) (result f64) local.get 0 local.get 1 f64.max)
 *     (func (export "f64.copysign") (param f64 f64) (result f64) local.get 0 local.get 1 f64.copysign)
 *     (func (export "f32.demote_f64") (param f64) (result f32) local.get 0 f32.demote_f64)
 *     (func (export "f64.promote_f32") (param f32) (result f64) local.get 0 f64.promote_f32)
 *   )
 */
static const uint8_t wasm_canon[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x21, 0x06, 0x60, 0x01, 0x7d, 0x01, 0x7d,
    0x60, 0x02, 0x7d, 0x7d, 0x01, 0x7d, 0x60, 0x01, 0x7c, 0x01, 0x7c, 0x60, 0x02, 0x7c, 0x7c, 0x01,
    0x7c, 0x60, 0x01, 0x7c, 0x01, 0x7d, 0x60, 0x01, 0x7d, 0x01, 0x7c, 0x03, 0x1f, 0x1e, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x04, 0x05, 0x07, 0xda, 0x02, 0x1e,
    0x08, 0x66, 0x33, 0x32, 0x2e, 0x63, 0x65, 0x69, 0x6c, 0x00, 0x00, 0x09, 0x66, 0x33, 0x32, 0x2e,
    0x66, 0x6c, 0x6f, 0x6f, 0x72, 0x00, 0x01, 0x09, 0x66, 0x33, 0x32, 0x2e, 0x74, 0x72, 0x75, 0x6e,
    0x63, 0x00, 0x02, 0x0b, 0x66, 0x33, 0x32, 0x2e, 0x6e, 0x65, 0x61, 0x72, 0x65, 0x73, 0x74, 0x00,
    0x03, 0x08, 0x66, 0x33, 0x32, 0x2e, 0x73, 0x71, 0x72, 0x74, 0x00, 0x04, 0x07, 0x66, 0x33, 0x32,
    0x2e, 0x61, 0x62, 0x73, 0x00, 0x05, 0x07, 0x66, 0x33, 0x32, 0x2e, 0x6e, 0x65, 0x67, 0x00, 0x06,
    0x07, 0x66, 0x33, 0x32, 0x2e, 0x61, 0x64, 0x64, 0x00, 0x07, 0x07, 0x66, 0x33, 0x32, 0x2e, 0x73,
    0x75, 0x62, 0x00, 0x08, 0x07, 0x66, 0x33, 0x32, 0x2e, 0x6d, 0x75, 0x6c, 0x00, 0x09, 0x07, 0x66,
    0x33, 0x32, 0x2e, 0x64, 0x69, 0x76, 0x00, 0x0a, 0x07, 0x66, 0x33, 0x32, 0x2e, 0x6d, 0x69, 0x6e,
    0x00, 0x0b, 0x07, 0x66, 0x33, 0x32, 0x2e, 0x6d, 0x61, 0x78, 0x00, 0x0c, 0x0c, 0x66, 0x33, 0x32,
    0x2e, 0x63, 0x6f, 0x70, 0x79, 0x73, 0x69, 0x67, 0x6e, 0x00, 0x0d, 0x08, 0x66, 0x36, 0x34, 0x2e,
    0x63, 0x65, 0x69, 0x6c, 0x00, 0x0e, 0x09, 0x66, 0x36, 0x34, 0x2e, 0x66, 0x6c, 0x6f, 0x6f, 0x72,
    0x00, 0x0f, 0x09, 0x66, 0x36, 0x34, 0x2e, 0x74, 0x72, 0x75, 0x6e, 0x63, 0x00, 0x10, 0x0b, 0x66,
    0x36, 0x34, 0x2e, 0x6e, 0x65, 0x61, 0x72, 0x65, 0x73, 0x74, 0x00, 0x11, 0x08, 0x66, 0x36, 0x34,
    0x2e, 0x73, 0x71, 0x72, 0x74, 0x00, 0x12, 0x07, 0x66, 0x36, 0x34, 0x2e, 0x61, 0x62, 0x73, 0x00,
    0x13, 0x07, 0x66, 0x36, 0x34, 0x2e, 0x6e, 0x65, 0x67, 0x00, 0x14, 0x07, 0x66, 0x36, 0x34, 0x2e,
    0x61, 0x64, 0x64, 0x00, 0x15, 0x07, 0x66, 0x36, 0x34, 0x2e, 0x73, 0x75, 0x62, 0x00, 0x16, 0x07,
    0x66, 0x36, 0x34, 0x2e, 0x6d, 0x75, 0x6c, 0x00, 0x17, 0x07, 0x66, 0x36, 0x34, 0x2e, 0x64, 0x69,
    0x76, 0x00, 0x18, 0x07, 0x66, 0x36, 0x34, 0x2e, 0x6d, 0x69, 0x6e, 0x00, 0x19, 0x07, 0x66, 0x36,
    0x34, 0x2e, 0x6d, 0x61, 0x78, 0x00, 0x1a, 0x0c, 0x66, 0x36, 0x34, 0x2e, 0x63, 0x6f, 0x70, 0x79,
    0x73, 0x69, 0x67, 0x6e, 0x00, 0x1b, 0x0e, 0x66, 0x33, 0x32, 0x2e, 0x64, 0x65, 0x6d, 0x6f, 0x74,
    0x65, 0x5f, 0x66, 0x36, 0x34, 0x00, 0x1c, 0x0f, 0x66, 0x36, 0x34, 0x2e, 0x70, 0x72, 0x6f, 0x6d,
    0x6f, 0x74, 0x65, 0x5f, 0x66, 0x33, 0x32, 0x00, 0x1d, 0x0a, 0xd1, 0x01, 0x1e, 0x05, 0x00, 0x20,
    0x00, 0x8d, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x8e, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x8f, 0x0b, 0x05,
    0x00, 0x20, 0x00, 0x90, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x91, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x8b,
    0x0b, 0x05, 0x00, 0x20, 0x00, 0x8c, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x92, 0x0b, 0x07,
    0x00, 0x20, 0x00, 0x20, 0x01, 0x93, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x94, 0x0b, 0x07,
    0x00, 0x20, 0x00, 0x20, 0x01, 0x95, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x96, 0x0b, 0x07,
    0x00, 0x20, 0x00, 0x20, 0x01, 0x97, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x98, 0x0b, 0x05,
    0x00, 0x20, 0x00, 0x9b, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x9c, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x9d,
    0x0b, 0x05, 0x00, 0x20, 0x00, 0x9e, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x9f, 0x0b, 0x05, 0x00, 0x20,
    0x00, 0x99, 0x0b, 0x05, 0x00, 0x20, 0x00, 0x9a, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa0,
    0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa1, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa2,
    0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa3, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa4,
    0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa5, 0x0b, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0xa6,
    0x0b, 0x05, 0x00, 0x20, 0x00, 0xb6, 0x0b, 0x05, 0x00, 0x20, 0x00, 0xbb, 0x0b,
};

/* pause.wasm, made with wat2wasm from:
 *   (module
 *     (import "env" "tick" (func $tick))
 *     (func (export "sum") (param $n i32) (result i64)
 *       (local $i i32) (local $acc i64)
 *       (block $done
 *         (loop $l
 *           (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
 *           (call $tick)
 *           (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 31))
 *                                    (i64.extend_i32_u (local.get $i))))
 *           (local.set $i (i32.add (local.get $i) (i32.const 1)))
 *           (br $l)))
 *       (local.get $acc)))
 */
static const uint8_t wasm_pause[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x02, 0x60, 0x00, 0x00, 0x60, 0x01,
    0x7f, 0x01, 0x7e, 0x02, 0x0c, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x04, 0x74, 0x69, 0x63, 0x6b, 0x00,
    0x00, 0x03, 0x02, 0x01, 0x01, 0x07, 0x07, 0x01, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x01, 0x0a, 0x2d,
    0x01, 0x2b, 0x02, 0x01, 0x7f, 0x01, 0x7e, 0x02, 0x40, 0x03, 0x40, 0x20, 0x01, 0x20, 0x00, 0x4f,
    0x0d, 0x01, 0x10, 0x00, 0x20, 0x02, 0x42, 0x1f, 0x7e, 0x20, 0x01, 0xad, 0x7c, 0x21, 0x02, 0x20,
    0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x02, 0x0b,
};

/* oom.wasm, made with wat2wasm from:
 *   (module
 *     (type $t (func (param i32) (result i32)))
 *     (import "env" "g" (global $g i32))
 *     (memory 1 2)
 *     (table 4 funcref)
 *     (global $h (mut i64) (i64.const 7))
 *     (func $id (type $t) local.get 0)
 *     (func $start i32.const 0 global.get $g i32.store)
 *     (elem (i32.const 0) $id $id)
 *     (elem $p funcref (ref.func $id))
 *     (data (i32.const 16) "hello")
 *     (data $d "passive")
 *     (start $start)
 *     (func (export "call") (param i32) (result i32) local.get 0 i32.const 0 call_indirect (type $t)))
 */
static const uint8_t wasm_oom[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x02, 0x60, 0x01, 0x7f, 0x01,
    0x7f, 0x60, 0x00, 0x00, 0x02, 0x0a, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x67, 0x03, 0x7f,
    0x00, 0x03, 0x04, 0x03, 0x00, 0x01, 0x00, 0x04, 0x04, 0x01, 0x70, 0x00, 0x04, 0x05, 0x04,
    0x01, 0x01, 0x01, 0x02, 0x06, 0x06, 0x01, 0x7e, 0x01, 0x42, 0x07, 0x0b, 0x07, 0x08, 0x01,
    0x04, 0x63, 0x61, 0x6c, 0x6c, 0x00, 0x02, 0x08, 0x01, 0x01, 0x09, 0x0c, 0x02, 0x00, 0x41,
    0x00, 0x0b, 0x02, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x0a, 0x1a, 0x03, 0x04, 0x00, 0x20,
    0x00, 0x0b, 0x09, 0x00, 0x41, 0x00, 0x23, 0x00, 0x36, 0x02, 0x00, 0x0b, 0x09, 0x00, 0x20,
    0x00, 0x41, 0x00, 0x11, 0x00, 0x00, 0x0b, 0x0b, 0x14, 0x02, 0x00, 0x41, 0x10, 0x0b, 0x05,
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x01, 0x07, 0x70, 0x61, 0x73, 0x73, 0x69, 0x76, 0x65,
};

/* growcall.wasm, made with wat2wasm from:
 *   (module
 *     (memory 1)
 *     (func $grow (param i32) (result i32) local.get 0 memory.grow)
 *     (func (export "grow_then_store") (param $pages i32) (param $addr i32) (result i32)
 *       (i32.store (i32.const 8) (i32.const 5))
 *       (drop (call $grow (local.get $pages)))
 *       (i32.store (local.get $addr) (i32.const 77))
 *       (i32.add (i32.load (local.get $addr)) (i32.load (i32.const 8)))))
 */
static const uint8_t wasm_growcall[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x02, 0x60, 0x01, 0x7f,
    0x01, 0x7f, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x03, 0x02, 0x00, 0x01, 0x05,
    0x03, 0x01, 0x00, 0x01, 0x07, 0x13, 0x01, 0x0f, 0x67, 0x72, 0x6f, 0x77, 0x5f, 0x74,
    0x68, 0x65, 0x6e, 0x5f, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x00, 0x01, 0x0a, 0x2a, 0x02,
    0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b, 0x21, 0x00, 0x41, 0x08, 0x41, 0x05, 0x36,
    0x02, 0x00, 0x20, 0x00, 0x10, 0x00, 0x1a, 0x20, 0x01, 0x41, 0xcd, 0x00, 0x36, 0x02,
    0x00, 0x20, 0x01, 0x28, 0x02, 0x00, 0x41, 0x08, 0x28, 0x02, 0x00, 0x6a, 0x0b,
};

/* meter.wasm, made with wat2wasm from:
 *   (module
 *     (import "env" "ooi" (func $ooi))
 *     (global $c (export "counter") (mut i64) (i64.const 10))
 *     (func (export "spin") (param $n i32) (result i32)
 *       (loop $l
 *         (global.set $c (i64.sub (global.get $c) (i64.const 3)))
 *         (if (i64.lt_s (global.get $c) (i64.const 0)) (then (call $ooi)))
 *         (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *         (br_if $l (local.get $n)))
 *       (local.get $n))
 *     (func (export "hazard") (param $n i32) (result i64)
 *       (global.get $c)
 *       (loop $l (param i64) (result i64)
 *         (i64.const 1)
 *         (i64.sub)
 *         (global.set $c)
 *         (i64.const 1000)
 *         (local.set $n (i32.sub (local.get $n) (i32.const 1)))
 *         (br_if $l (local.get $n)))))
 */
static const uint8_t wasm_meter[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x13, 0x04, 0x60, 0x00, 0x00, 0x60,
    0x01, 0x7f, 0x01, 0x7f, 0x60, 0x01, 0x7f, 0x01, 0x7e, 0x60, 0x01, 0x7e, 0x01, 0x7e, 0x02,
    0x0b, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x03, 0x6f, 0x6f, 0x69, 0x00, 0x00, 0x03, 0x03, 0x02,
    0x01, 0x02, 0x06, 0x06, 0x01, 0x7e, 0x01, 0x42, 0x0a, 0x0b, 0x07, 0x1b, 0x03, 0x07, 0x63,
    0x6f, 0x75, 0x6e, 0x74, 0x65, 0x72, 0x03, 0x00, 0x04, 0x73, 0x70, 0x69, 0x6e, 0x00, 0x01,
    0x06, 0x68, 0x61, 0x7a, 0x61, 0x72, 0x64, 0x00, 0x02, 0x0a, 0x40, 0x02, 0x23, 0x00, 0x03,
    0x40, 0x23, 0x00, 0x42, 0x03, 0x7d, 0x24, 0x00, 0x23, 0x00, 0x42, 0x00, 0x53, 0x04, 0x40,
    0x10, 0x00, 0x0b, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x20, 0x00, 0x0d, 0x00, 0x0b,
    0x20, 0x00, 0x0b, 0x1a, 0x00, 0x23, 0x00, 0x03, 0x03, 0x42, 0x01, 0x7d, 0x24, 0x00, 0x42,
    0xe8, 0x07, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00, 0x20, 0x00, 0x0d, 0x00, 0x0b, 0x0b,
};

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct loaded {
    engine_module *m;
    engine_code *code;
    engine_instance *inst;
} loaded;

static void load(loaded *l, const uint8_t *bytes, size_t len, const engine_run_config *rc,
                 const engine_extern *imports, uint32_t nimports)
{
    engine_config cfg;
    engine_config_default(&cfg);
    memset(l, 0, sizeof *l);
    assert_int_equal(engine_module_load(&cfg, span_of(bytes, len), &l->m, NULL), ST_OK);
    assert_int_equal(engine_code_compile(l->m, &l->code), ST_OK);
    assert_int_equal(engine_instance_new(l->code, rc, imports, nimports, NULL, &l->inst, NULL),
                     ST_OK);
}

static void unload(loaded *l)
{
    engine_instance_free(l->inst);
    engine_code_free(l->code);
    engine_module_free(l->m);
}

static engine_func *export_func(loaded *l, const char *name)
{
    engine_extern x;
    assert_int_equal(engine_instance_export(l->inst, span_of(name, strlen(name)), &x), ST_OK);
    assert_int_equal(x.kind, EXT_FUNC);
    return x.u.func;
}

static status call1(loaded *l, const char *name, uint64_t a, uint64_t *r)
{
    return engine_instance_invoke(l->inst, export_func(l, name), &a, r);
}

static status call2(loaded *l, const char *name, uint64_t a, uint64_t b, uint64_t *r)
{
    uint64_t args[2] = {a, b};
    return engine_instance_invoke(l->inst, export_func(l, name), args, r);
}

/* ---- limits -------------------------------------------------------------------------------- */

static void test_call_depth_limit(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_call_depth = 500;
    loaded l;
    load(&l, wasm_rec, sizeof wasm_rec, &rc, NULL, 0);
    for (int run = 0; run < 3; run++) {
        uint64_t r = 0;
        assert_int_equal(call1(&l, "f", 0, &r), ST_TRAP_CALL_STACK_EXHAUSTED);
        assert_int_equal(engine_instance_max_depth(l.inst), 500);
    }
    /* the instance is usable after the trap */
    uint64_t r = 0;
    assert_int_equal(call1(&l, "fac", 20, &r), ST_OK);
    assert_true(r == UINT64_C(2432902008176640000));
    assert_true(engine_instance_max_depth(l.inst) == 21);
    unload(&l);
}

static void test_value_slot_limit(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_value_slots = 4096;
    loaded l;
    load(&l, wasm_rec, sizeof wasm_rec, &rc, NULL, 0);
    uint32_t depth = 0;
    for (int run = 0; run < 3; run++) {
        uint64_t r = 0;
        assert_int_equal(call1(&l, "big", 0, &r), ST_TRAP_CALL_STACK_EXHAUSTED);
        uint32_t d = engine_instance_max_depth(l.inst);
        assert_true(d > 10 && d < 4096 / 21);
        if (run)
            assert_int_equal(d, depth);
        depth = d;
    }
    unload(&l);
}

static void test_memory_grow_limit(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_memory_pages = 4;
    loaded l;
    load(&l, wasm_grow, sizeof wasm_grow, &rc, NULL, 0);
    uint64_t r = 0;
    assert_int_equal(call1(&l, "grow", 3, &r), ST_OK);
    assert_int_equal(r, 1);
    assert_int_equal(call1(&l, "grow", 1, &r), ST_OK);
    assert_int_equal(r, 0xffffffffu);
    assert_int_equal(call1(&l, "grow", 0, &r), ST_OK);
    assert_int_equal(r, 4);
    assert_int_equal(engine_instance_invoke(l.inst, export_func(&l, "size"), NULL, &r), ST_OK);
    assert_int_equal(r, 4);
    assert_int_equal(call2(&l, "store", 4 * 65536 - 4, 0xdeadbeef, &r), ST_OK);
    assert_int_equal(call1(&l, "load", 4 * 65536 - 4, &r), ST_OK);
    assert_int_equal(r, 0xdeadbeef);
    assert_int_equal(call1(&l, "load", 4 * 65536 - 3, &r), ST_TRAP_MEMORY_OOB);
    assert_int_equal(call1(&l, "load", 0xffffffff, &r), ST_TRAP_MEMORY_OOB);
    unload(&l);

    /* the host has no memory for a grow within the maximum: a FAULT, not a Wasm-visible -1
     * (which would depend on this node's free memory), and the memory is unchanged */
    load(&l, wasm_grow, sizeof wasm_grow, &rc, NULL, 0);
    assert_int_equal(call2(&l, "store", 65536 - 4, 0x01020304, &r), ST_OK);
    base_alloc_fail_after(0, true);
    status grown = call1(&l, "grow", 2, &r);
    base_alloc_fail_after(-1, false);
    assert_int_equal(grown, ST_OUT_OF_MEMORY);
    assert_int_equal(status_class_of(grown), SC_FAULT);
    assert_int_equal(engine_instance_invoke(l.inst, export_func(&l, "size"), NULL, &r), ST_OK);
    assert_int_equal(r, 1);
    assert_int_equal(call1(&l, "load", 65536 - 4, &r), ST_OK);
    assert_int_equal(r, 0x01020304);
    assert_int_equal(call1(&l, "grow", 2, &r), ST_OK); /* memory back: the grow works */
    assert_int_equal(r, 1);
    unload(&l);

    /* a callee grows (and so may move) the memory; the caller's accesses see the new memory */
    load(&l, wasm_growcall, sizeof wasm_growcall, &rc, NULL, 0);
    for (uint64_t pages = 1; pages <= 3; pages++) {
        assert_int_equal(call2(&l, "grow_then_store", pages, (pages + 1) * 65536 - 4, &r), ST_OK);
        assert_int_equal(r, 82);
    }
    assert_int_equal(call2(&l, "grow_then_store", 1, 4 * 65536, &r), ST_TRAP_MEMORY_OOB);
    unload(&l);

    /* the declared maximum binds below the configured one */
    rc.max_memory_pages = 100;
    load(&l, wasm_growmax, sizeof wasm_growmax, &rc, NULL, 0);
    assert_int_equal(call1(&l, "grow", 2, &r), ST_OK);
    assert_int_equal(r, 1);
    assert_int_equal(call1(&l, "grow", 1, &r), ST_OK);
    assert_int_equal(r, 0xffffffffu);
    unload(&l);
}

/* Past 1 MiB a memory is an address-space reservation (engine/memory.c): a 2 GiB grow costs
 * resident memory only for the pages written, pages read as zero (also after a shrink and a
 * grow again), write marks follow, and a failed reservation is a FAULT with the memory intact. */
static void test_memory_reservation(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    loaded l;
    load(&l, wasm_grow, sizeof wasm_grow, &rc, NULL, 0);
    uint64_t r = 0;
    assert_int_equal(call2(&l, "store", 100, 0xabcd, &r), ST_OK);
    engine_memory *mem = engine_instance_memory(l.inst);
    engine_memory_marks_clear(mem);
    uint64_t before = test_resident_bytes();
    assert_int_equal(call1(&l, "grow", 32767, &r), ST_OK); /* to 2 GiB */
    assert_int_equal(r, 1);
    uint64_t top = UINT64_C(32768) * 65536 - 4, mid = UINT64_C(20000) * 65536;
    assert_int_equal(call2(&l, "store", top, 0x11223344, &r), ST_OK);
    assert_int_equal(call2(&l, "store", mid, 0x55667788, &r), ST_OK);
    assert_int_equal(call1(&l, "load", top, &r), ST_OK);
    assert_int_equal(r, 0x11223344);
    assert_int_equal(call1(&l, "load", mid + 65536, &r), ST_OK);
    assert_int_equal(r, 0);
    assert_int_equal(call1(&l, "load", 100, &r), ST_OK); /* the old bytes came along */
    assert_int_equal(r, 0xabcd);
    uint64_t grown = test_resident_bytes() - before;
    assert_true(grown < (UINT64_C(256) << 20));
    assert_int_equal(engine_memory_mark_next(mem, 0), mid / 4096); /* marks moved to the end */
    assert_int_equal(engine_memory_mark_next(mem, mid / 4096 + 1), top / 4096);
    /* shrink gives the pages back; growing again finds zeros, not the old bytes */
    assert_int_equal(engine_memory_shrink(mem, 2), ST_OK);
    assert_int_equal(engine_memory_mark_next(mem, 0), 2 * 65536 / 4096); /* none left below */
    assert_int_equal(call1(&l, "grow", 30000, &r), ST_OK);
    assert_int_equal(r, 2);
    assert_int_equal(call1(&l, "load", mid, &r), ST_OK);
    assert_int_equal(r, 0);
    assert_int_equal(call1(&l, "load", UINT64_C(30001) * 65536 - 4, &r), ST_OK);
    assert_int_equal(r, 0);
    assert_int_equal(engine_memory_mark_next(mem, 0), engine_memory_size(mem) / 4096);
    unload(&l);

    /* the reservation cannot be made: a FAULT, the memory as it was */
    load(&l, wasm_grow, sizeof wasm_grow, &rc, NULL, 0);
    assert_int_equal(call2(&l, "store", 8, 77, &r), ST_OK);
    base_alloc_fail_after(0, true);
    status st = call1(&l, "grow", 100, &r);
    base_alloc_fail_after(-1, false);
    assert_int_equal(st, ST_OUT_OF_MEMORY);
    assert_int_equal(engine_instance_invoke(l.inst, export_func(&l, "size"), NULL, &r), ST_OK);
    assert_int_equal(r, 1);
    assert_int_equal(call1(&l, "load", 8, &r), ST_OK);
    assert_int_equal(r, 77);
    unload(&l);
}

/* A budget bounds memory.grow (and engine_memory_grow) by a count of bytes: -1 past it, and the
 * bytes a grow takes are gone from it. */
static void test_memory_budget(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    loaded l;
    load(&l, wasm_grow, sizeof wasm_grow, &rc, NULL, 0);
    uint64_t budget = 3 * 65536 + 100, r = 0;
    engine_instance_set_budget(l.inst, &budget);
    assert_int_equal(call1(&l, "grow", 4, &r), ST_OK);
    assert_int_equal(r, 0xffffffffu);
    assert_int_equal(budget, 3 * 65536 + 100);
    assert_int_equal(call1(&l, "grow", 2, &r), ST_OK);
    assert_int_equal(r, 1);
    assert_int_equal(budget, 65536 + 100);
    assert_int_equal(call1(&l, "grow", 2, &r), ST_OK);
    assert_int_equal(r, 0xffffffffu);
    uint32_t old = 0;
    assert_int_equal(engine_memory_grow(engine_instance_memory(l.inst), 2, &old),
                     ST_LIMIT_EXCEEDED);
    assert_int_equal(engine_memory_grow(engine_instance_memory(l.inst), 1, &old), ST_OK);
    assert_int_equal(old, 3);
    assert_int_equal(budget, 100);
    engine_instance_set_budget(l.inst, NULL);
    assert_int_equal(call1(&l, "grow", 2, &r), ST_OK);
    assert_int_equal(r, 4);
    unload(&l);
}

/* ---- floats -------------------------------------------------------------------------------- */

static const uint64_t nan32[] = {0x7fc00000, 0xffc00000, 0x7fa00001, 0xff812345, 0x7fffffff};
static const uint64_t nan64[] = {UINT64_C(0x7ff8000000000000), UINT64_C(0xfff8000000000000),
                                 UINT64_C(0x7ff4000000000001), UINT64_C(0xfff0000000abcdef),
                                 UINT64_C(0x7fffffffffffffff)};
static const uint64_t one32 = 0x3f800000;
static const uint64_t one64 = UINT64_C(0x3ff0000000000000);
#define CANON32 UINT64_C(0x7fc00000)
#define CANON64 UINT64_C(0x7ff8000000000000)

/* Every F_CANON opcode of opcodes.def, fed NaNs with payloads (and operands that make a NaN from
 * numbers), returns exactly the canonical NaN. */
static void test_nan_canonicalization(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    loaded l;
    load(&l, wasm_canon, sizeof wasm_canon, &rc, NULL, 0);
    int covered = 0, expected = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        const opcode_info *oi = &engine_opcodes[op];
        if (!(oi->flags & F_CANON))
            continue;
        expected++;
        const char *sig = oi->sig; /* "f>f", "FF>F", "F>f", "f>F" */
        bool in64 = sig[0] == 'F', out64 = strchr(sig, '>')[1] == 'F';
        bool binary = sig[1] != '>';
        uint64_t canon = out64 ? CANON64 : CANON32;
        const uint64_t *nans = in64 ? nan64 : nan32;
        uint64_t one = in64 ? one64 : one32;
        for (size_t i = 0; i < BASE_ARRAY_LEN(nan32); i++) {
            uint64_t r = 0;
            if (binary) {
                assert_int_equal(call2(&l, oi->text, nans[i], one, &r), ST_OK);
                assert_true(r == canon);
                assert_int_equal(call2(&l, oi->text, one, nans[i], &r), ST_OK);
                assert_true(r == canon);
                assert_int_equal(call2(&l, oi->text, nans[i], nans[(i + 1) % 5], &r), ST_OK);
                assert_true(r == canon);
            } else {
                assert_int_equal(call1(&l, oi->text, nans[i], &r), ST_OK);
                assert_true(r == canon);
            }
        }
        covered++;
    }
    assert_int_equal(covered, expected);
    assert_true(expected >= 24);
    /* NaNs made from numbers */
    uint64_t r = 0;
    assert_int_equal(call1(&l, "f32.sqrt", 0xbf800000, &r), ST_OK); /* sqrt(-1) */
    assert_true(r == CANON32);
    assert_int_equal(
        call2(&l, "f64.add", UINT64_C(0x7ff0000000000000), UINT64_C(0xfff0000000000000), &r),
        ST_OK); /* inf + -inf */
    assert_true(r == CANON64);
    assert_int_equal(call2(&l, "f32.div", 0, 0, &r), ST_OK);
    assert_true(r == CANON32);
    assert_int_equal(call2(&l, "f64.mul", 0, UINT64_C(0x7ff0000000000000), &r), ST_OK);
    assert_true(r == CANON64);
    unload(&l);
}

static void test_float_edge_cases(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    loaded l;
    load(&l, wasm_canon, sizeof wasm_canon, &rc, NULL, 0);
    uint64_t r = 0;
    /* abs/neg/copysign are bit operations: NaN payloads and signs survive exactly */
    assert_int_equal(call1(&l, "f32.abs", 0xff812345, &r), ST_OK);
    assert_true(r == 0x7f812345);
    assert_int_equal(call1(&l, "f32.neg", 0x7fa00001, &r), ST_OK);
    assert_true(r == 0xffa00001);
    assert_int_equal(call2(&l, "f32.copysign", 0x7fa00001, 0xbf800000, &r), ST_OK);
    assert_true(r == 0xffa00001);
    assert_int_equal(call1(&l, "f64.abs", UINT64_C(0xfff0000000abcdef), &r), ST_OK);
    assert_true(r == UINT64_C(0x7ff0000000abcdef));
    assert_int_equal(call1(&l, "f64.neg", UINT64_C(0x7ff4000000000001), &r), ST_OK);
    assert_true(r == UINT64_C(0xfff4000000000001));
    assert_int_equal(call2(&l, "f64.copysign", UINT64_C(0xfff4000000000001), 0, &r), ST_OK);
    assert_true(r == UINT64_C(0x7ff4000000000001));
    /* min/max order -0 below +0 */
    assert_int_equal(call2(&l, "f32.min", 0, 0x80000000, &r), ST_OK);
    assert_true(r == 0x80000000);
    assert_int_equal(call2(&l, "f32.max", 0x80000000, 0, &r), ST_OK);
    assert_true(r == 0);
    assert_int_equal(call2(&l, "f64.min", 0, UINT64_C(0x8000000000000000), &r), ST_OK);
    assert_true(r == UINT64_C(0x8000000000000000));
    /* nearest rounds ties to even and keeps the sign of zero */
    assert_int_equal(call1(&l, "f32.nearest", 0x40200000, &r), ST_OK); /* 2.5 -> 2 */
    assert_true(r == 0x40000000);
    assert_int_equal(call1(&l, "f32.nearest", 0x40600000, &r), ST_OK); /* 3.5 -> 4 */
    assert_true(r == 0x40800000);
    assert_int_equal(call1(&l, "f32.nearest", 0xbf000000, &r), ST_OK); /* -0.5 -> -0 */
    assert_true(r == 0x80000000);
    assert_int_equal(call1(&l, "f64.nearest", UINT64_C(0xc004000000000000), &r), ST_OK);
    assert_true(r == UINT64_C(0xc000000000000000)); /* -2.5 -> -2 */
    unload(&l);
}

/* ---- pause and resume ---------------------------------------------------------------------- */

typedef struct ticker {
    unsigned calls, every;
} ticker;

static status tick(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)slots;
    ticker *t = user;
    if (++t->calls % t->every == 0)
        engine_instance_pause_request(inst);
    return ST_OK;
}

static void test_pause_resume(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    ticker t = {0, 7};
    engine_func *hf = NULL;
    functype ft = {0, 0, NULL};
    assert_int_equal(engine_host_func_new(&ft, tick, &t, &hf), ST_OK);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = hf};
    loaded l;
    load(&l, wasm_pause, sizeof wasm_pause, &rc, &imp, 1);
    uint64_t expect = 0;
    for (uint32_t i = 0; i < 100; i++)
        expect = expect * 31 + i;

    uint64_t n = 100, r = 0;
    assert_int_equal(engine_instance_invoke(l.inst, export_func(&l, "sum"), &n, &r), ST_OK);
    assert_true(r == expect); /* invoke runs through pause requests */
    assert_int_equal(t.calls, 100);

    t.calls = 0;
    assert_int_equal(engine_instance_invoke_begin(l.inst, export_func(&l, "sum"), &n), ST_OK);
    unsigned pauses = 0;
    bool paused = true;
    while (paused) {
        assert_int_equal(engine_instance_run(l.inst, &paused), ST_OK);
        if (paused) {
            pauses++;
            assert_int_equal(t.calls, pauses * 7); /* stopped right after the 7th call */
        }
    }
    assert_int_equal(pauses, 100 / 7);
    r = 0;
    engine_instance_results(l.inst, &r);
    assert_true(r == expect);
    /* busy while paused: a second begin is refused */
    assert_int_equal(engine_instance_invoke_begin(l.inst, export_func(&l, "sum"), &n), ST_OK);
    assert_int_equal(engine_instance_run(l.inst, &paused), ST_OK);
    assert_true(paused);
    assert_int_equal(engine_instance_invoke_begin(l.inst, export_func(&l, "sum"), &n),
                     ST_BUG_INVARIANT);
    engine_instance_abandon(l.inst);
    assert_int_equal(engine_instance_invoke(l.inst, export_func(&l, "sum"), &n, &r), ST_OK);
    assert_true(r == expect);
    unload(&l);
    engine_host_func_free(hf);
}

/* ---- the metering sequence (fused into single instructions by the compiler) ----------------- */

typedef struct refill {
    engine_global *counter;
    unsigned calls;
} refill;

static status ooi(engine_instance *inst, void *user, uint64_t *slots)
{
    (void)inst;
    (void)slots;
    refill *rf = user;
    rf->calls++;
    return engine_global_set(rf->counter, engine_global_get(rf->counter) + 10);
}

static void test_metering_sequence(void **state)
{
    (void)state;
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    refill rf = {NULL, 0};
    engine_func *hf = NULL;
    functype ft = {0, 0, NULL};
    assert_int_equal(engine_host_func_new(&ft, ooi, &rf, &hf), ST_OK);
    engine_extern imp = {.kind = EXT_FUNC, .u.func = hf};
    loaded l;
    load(&l, wasm_meter, sizeof wasm_meter, &rc, &imp, 1);
    engine_extern x;
    assert_int_equal(engine_instance_export(l.inst, span_of("counter", 7), &x), ST_OK);
    assert_int_equal(x.kind, EXT_GLOBAL);
    rf.counter = x.u.global;
    uint64_t r = 1;
    /* 10 -3 per iteration: below zero at iterations 4 and 7 (refilled by 10), 0 at the end */
    assert_int_equal(call1(&l, "spin", 10, &r), ST_OK);
    assert_int_equal(r, 0);
    assert_int_equal(rf.calls, 2);
    assert_int_equal(engine_global_get(rf.counter), 0);
    /* a global.get whose value is a loop parameter must not be fused with the loop body */
    assert_int_equal(engine_global_set(rf.counter, 100), ST_OK);
    assert_int_equal(call1(&l, "hazard", 2, &r), ST_OK);
    assert_int_equal(r, 1000);
    assert_int_equal(engine_global_get(rf.counter), 999);
    unload(&l);
    engine_host_func_free(hf);
}

/* ---- allocation failures ------------------------------------------------------------------- */

/* Fails the n-th allocation of compile + instantiate for every n until both succeed: each
 * failure must be ST_OUT_OF_MEMORY with nothing leaked (the sanitizer build checks leaks). */
static void test_alloc_failures(void **state)
{
    (void)state;
    engine_config cfg;
    engine_config_default(&cfg);
    engine_run_config rc;
    engine_run_config_default(NULL, &rc);
    rc.max_value_slots = 1024;
    engine_module *m = NULL;
    assert_int_equal(engine_module_load(&cfg, span_of(wasm_oom, sizeof wasm_oom), &m, NULL),
                     ST_OK);
    engine_global *g = NULL;
    assert_int_equal(engine_global_new((globaltype){VT_I32, false}, 0x1234, &g), ST_OK);
    engine_extern imp = {.kind = EXT_GLOBAL, .u.global = g};
    int failures = 0;
    for (long n = 0;; n++) {
        engine_code *code = NULL;
        engine_instance *inst = NULL;
        base_alloc_fail_after(n, true);
        status st = engine_code_compile(m, &code);
        if (st == ST_OK)
            st = engine_instance_new(code, &rc, &imp, 1, NULL, &inst, NULL);
        base_alloc_fail_after(-1, false);
        if (st == ST_OK) {
            uint64_t arg = 1, r = 0;
            engine_extern x;
            assert_int_equal(engine_instance_export(inst, span_of("call", 4), &x), ST_OK);
            assert_int_equal(engine_instance_invoke(inst, x.u.func, &arg, &r), ST_OK);
            assert_int_equal(r, 1);
            uint8_t *mem = engine_memory_data(engine_instance_memory(inst));
            assert_int_equal(mem[0], 0x34); /* the start function ran */
            assert_memory_equal(mem + 16, "hello", 5);
            engine_instance_free(inst);
            engine_code_free(code);
            break;
        }
        assert_int_equal(st, ST_OUT_OF_MEMORY);
        assert_null(inst);
        engine_code_free(code); /* NULL if compiling failed */
        failures++;
        assert_true(n < 1000);
    }
    assert_true(failures >= 2);
    engine_global_free(g);
    engine_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_depth_limit),  cmocka_unit_test(test_value_slot_limit),
        cmocka_unit_test(test_memory_grow_limit), cmocka_unit_test(test_memory_reservation),
        cmocka_unit_test(test_memory_budget),     cmocka_unit_test(test_nan_canonicalization),
        cmocka_unit_test(test_float_edge_cases),  cmocka_unit_test(test_pause_resume),
        cmocka_unit_test(test_metering_sequence), cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
