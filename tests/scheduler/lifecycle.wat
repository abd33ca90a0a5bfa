;; lifecycle.wat - a test canister whose every install and upgrade step is long (test_install.c):
;; the start function, canister_init, pre_upgrade and post_upgrade each loop 50,000 times
;; (about 300,000 instructions), so a small slice spreads an install or upgrade over many
;; rounds. start sets mem[0] = 11; init sets the global to 22 (and traps after its loop when
;; its argument is one byte long); pre_upgrade saves mem[0] and the global to stable memory;
;; post_upgrade copies them to mem[16..24) and sets the global to 33. `bump` adds 1 to mem[0];
;; `get` answers mem[0], the global, mem[16], mem[20] (16 bytes).
(module
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_arg_data_size" (func $argsize (result i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (import "ic0" "stable64_grow" (func $sgrow (param i64) (result i64)))
  (import "ic0" "stable64_write" (func $swrite (param i64 i64 i64)))
  (import "ic0" "stable64_read" (func $sread (param i64 i64 i64)))
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $spin (param $n i32)
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n))))
  (func $start
    (call $spin (i32.const 50000))
    (i32.store (i32.const 0) (i32.const 11)))
  (start $start)
  (func (export "canister_init")
    (call $spin (i32.const 50000))
    (global.set $g (i32.const 22))
    (if (i32.eq (call $argsize) (i32.const 1))
      (then (call $trap (i32.const 0) (i32.const 0)))))
  (func (export "canister_pre_upgrade")
    (call $spin (i32.const 50000))
    (drop (call $sgrow (i64.const 1)))
    (i32.store (i32.const 4) (global.get $g))
    (call $swrite (i64.const 0) (i64.const 0) (i64.const 8)))
  (func (export "canister_post_upgrade")
    (call $spin (i32.const 50000))
    (call $sread (i64.const 16) (i64.const 0) (i64.const 8))
    (global.set $g (i32.const 33)))
  (func (export "canister_update bump")
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  (func (export "canister_query get")
    (i32.store (i32.const 4) (global.get $g))
    (call $append (i32.const 0) (i32.const 4))
    (call $append (i32.const 4) (i32.const 4))
    (call $append (i32.const 16) (i32.const 8))
    (call $reply)))
