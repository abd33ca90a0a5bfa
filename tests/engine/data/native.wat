;; native.wat - test_native's module: hostile import and export names (they must never reach the
;; generated C), a loop that calls a host function (time slicing), recursion (stack limits),
;; traps and a NaN result.
(module
  (import "host\"*/ #include <evil.h> /*" "tick\n#define x system(\"rm -rf /\")" (func $tick (param i32)))
  (memory (export "mem */ system(\"rm\"); /*") 1)
  (global $g (export "g\\\" ) { abort(); } //") (mut i64) (i64.const 0))
  (func $work (export "work\" ) { abort(); } //") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 31))
                               (i64.extend_i32_u (local.get $i))))
      (i64.store (i32.mul (local.get $i) (i32.const 8)) (local.get $acc))
      (call $tick (local.get $i))
      (global.set $g (i64.add (global.get $g) (i64.const 1)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func $rec (export "rec") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "fdiv") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
)
