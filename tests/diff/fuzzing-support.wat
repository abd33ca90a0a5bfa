;; fuzzing-support.wat - the imports binaryen's `wasm-opt -ttf` modules use (log-i32, log-i64,
;; log-f32, log-f64), as a Wasm module so that tally and wabt run the very same code: each log
;; call folds its argument's bits into a hash that both engines compare after every call.
(module
  (global $h (mut i64) (i64.const 0))
  (func $mix (param i64)
    (global.set $h (i64.add (i64.mul (global.get $h) (i64.const 1000003)) (local.get 0))))
  (func (export "log-i32") (param i32) (call $mix (i64.extend_i32_u (local.get 0))))
  (func (export "log-i64") (param i64) (call $mix (local.get 0)))
  (func (export "log-f32") (param f32)
    (call $mix (i64.extend_i32_u (i32.reinterpret_f32 (local.get 0)))))
  (func (export "log-f64") (param f64) (call $mix (i64.reinterpret_f64 (local.get 0))))
  (func (export "hash") (result i64) (global.get $h)))
