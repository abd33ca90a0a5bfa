;; big.wat - a canister that grows its heap to 2 GiB and its stable memory to 2 GiB and writes
;; one byte at the top of each (update `big`); query `peek` replies those two bytes and two zeros
;; (test_scheduler.c: a restart costs memory for the written pages only).
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "stable64_grow" (func $sgrow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $swrite (param i64 i64 i64)))
  (import "ic0" "stable64_read" (func $sread (param i64 i64 i64)))
  (memory 1)
  (func (export "canister_update big")
    (drop (memory.grow (i32.const 32767)))
    (i32.store8 (i32.const 0x7fffffff) (i32.const 9))
    (drop (call $sgrow (i64.const 32768)))
    (i32.store8 (i32.const 16) (i32.const 7))
    (call $swrite (i64.const 0x7fffffff) (i64.const 16) (i64.const 1))
    (call $reply))
  (func (export "canister_query peek")
    (i32.store8 (i32.const 0) (i32.load8_u (i32.const 0x7fffffff)))
    (call $sread (i64.const 1) (i64.const 0x7fffffff) (i64.const 1))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply)))
