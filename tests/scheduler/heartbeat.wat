;; heartbeat.wat - counts its heartbeats and keeps the time of the last one, for
;; tests/scheduler/test_cycles.c. Memory: [0] beats (u64), [8] time of the last beat (u64).
(module
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "time" (func $time (result i64)))
  (memory 1)
  (func (export "canister_heartbeat")
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (i64.store (i32.const 8) (call $time)))
  (func (export "canister_query beats") (call $append (i32.const 0) (i32.const 16)) (call $reply)))
