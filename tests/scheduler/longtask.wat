;; longtask.wat - tasks longer than a slice (test_cycles.c): canister_heartbeat and
;; canister_global_timer each loop 100,000 times (about 700,000 instructions), then count
;; themselves. update "arm": sets the global timer to its argument (u64 LE); update "bump":
;; counts and replies the three counters; query "get": the counters (3 x u64 LE: heartbeats,
;; timer runs, bumps).
(module
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "global_timer_set" (func $timer_set (param i64) (result i64)))
  (memory 1)
  (func $spin
    (local $i i32)
    (local.set $i (i32.const 100000))
    (loop $l
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i))))
  (func $count (param $at i32)
    (i64.store (local.get $at) (i64.add (i64.load (local.get $at)) (i64.const 1))))
  (func (export "canister_heartbeat") (call $spin) (call $count (i32.const 0)))
  (func (export "canister_global_timer") (call $spin) (call $count (i32.const 8)))
  (func (export "canister_update arm")
    (call $arg_copy (i32.const 32) (i32.const 0) (i32.const 8))
    (drop (call $timer_set (i64.load (i32.const 32))))
    (call $reply))
  (func (export "canister_update bump")
    (call $count (i32.const 16))
    (call $append (i32.const 0) (i32.const 24))
    (call $reply))
  (func (export "canister_query get") (call $append (i32.const 0) (i32.const 24)) (call $reply)))
