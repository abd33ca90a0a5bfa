;; slow.wat - a test canister for time slicing: `slow` adds 1 to a counter in memory and then
;; loops 100,000 times (about 700,000 instructions), so a small slice limit spreads it over many
;; rounds; `get` replies the counter (4 bytes LE).
(module
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 1)
  (func (export "canister_update slow")
    (local $i i32)
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (local.set $i (i32.const 100000))
    (loop $l
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  (func (export "canister_update quick")
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  (func (export "canister_query get")
    (call $append (i32.const 0) (i32.const 4))
    (call $reply)))
