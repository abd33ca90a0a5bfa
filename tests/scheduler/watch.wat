;; watch.wat - a test canister for what a paused message sees (tests/scheduler/test_paused.c):
;; update `watch` (argument: a principal of at most 29 bytes) takes a snapshot of
;; ic0.is_controller(argument), ic0.canister_status and ic0.canister_cycle_balance128, loops
;; 100,000 times (about 700,000 instructions: a small slice limit spreads it over many rounds),
;; takes a second snapshot and replies both: 2 x (u32 is_controller, u32 status, u128 balance),
;; 48 bytes. `look` replies one snapshot at once (24 bytes); query `get` replies how many
;; `watch` ran (u32).
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "is_controller" (func $is_controller (param i32 i32) (result i32)))
  (import "ic0" "canister_status" (func $status (result i32)))
  (import "ic0" "canister_cycle_balance128" (func $balance (param i32)))
  (memory 1)
  ;; 0: watch count; 64: two snapshots of 24 bytes; 256: the argument

  (func $read_arg (result i32)
    (local $n i32)
    (local.set $n (call $arg_size))
    (call $arg_copy (i32.const 256) (i32.const 0) (local.get $n))
    (local.get $n))

  (func $snap (param $at i32) (param $n i32)
    (i32.store (local.get $at) (call $is_controller (i32.const 256) (local.get $n)))
    (i32.store offset=4 (local.get $at) (call $status))
    (call $balance (i32.add (local.get $at) (i32.const 8))))

  (func (export "canister_update watch")
    (local $n i32) (local $i i32)
    (local.set $n (call $read_arg))
    (call $snap (i32.const 64) (local.get $n))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (local.set $i (i32.const 100000))
    (loop $l
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (local.get $i)))
    (call $snap (i32.const 88) (local.get $n))
    (call $append (i32.const 64) (i32.const 48))
    (call $reply))

  (func (export "canister_update look")
    (call $snap (i32.const 64) (call $read_arg))
    (call $append (i32.const 64) (i32.const 24))
    (call $reply))

  (func (export "canister_query get")
    (call $append (i32.const 0) (i32.const 4))
    (call $reply)))
