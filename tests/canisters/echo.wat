;; echo.wat - `canister_update echo` (and the same as `canister_query echo_query`) replies its
;; argument unchanged (any size: linear memory is
;; grown to fit the argument; a refused memory.grow traps via ic0.trap "echo: out of memory").
;; Imports from "ic0" only (host-api/ic0.def).
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $reply_append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "echo: out of memory")
  (func $echo (export "canister_update echo") (export "canister_query echo_query")
    (local $n i32)
    (local $need i32)
    (local.set $n (call $arg_size))
    ;; The argument goes at offset 64; pages needed = ceil((64 + n) / 65536), computed in i64
    ;; so that a huge n cannot wrap.
    (local.set $need
      (i32.wrap_i64
        (i64.shr_u
          (i64.add (i64.extend_i32_u (local.get $n)) (i64.const 65599))
          (i64.const 16))))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
          (then (call $trap (i32.const 0) (i32.const 19))))))
    (call $arg_copy (i32.const 64) (i32.const 0) (local.get $n))
    (call $reply_append (i32.const 64) (local.get $n))
    (call $reply)))
