;; invalid_type.wat - deliberately INVALID: the function declares an i32 result but leaves an
;; i64 on the stack. Converted with `wat2wasm --no-check`; `tally validate` must reject it with
;; TYPE_MISMATCH (exit 1).
(module
  (func (export "bad") (result i32)
    (i64.const 1)))
