;; inspect.wat - a canister with canister_inspect_message (tests/scheduler/test_inspect.c,
;; tests/cli/test_rpc.c; docs/canisters.md "Ingress inspection"). Its inspect first adds 1 to the
;; counter at memory 0 (which must never stay: inspection is read-only), then decides by the
;; method name, the argument and the caller:
;;   "blocked"        returns without ic0.accept_message: refused
;;   "trap"           traps ("inspect: trap")
;;   "spin"           loops until the instruction limit
;;   argument "no"    refused, whatever the method
;;   an anonymous caller (principal of 1 byte) refused
;;   anything else    accepted
;; Methods: update inc (adds 1 to the counter, replies it as u64 LE), updates blocked, trap and
;; spin (reply "ran": only canisters reach them), query get (the counter, u64 LE).
(module
  (import "ic0" "msg_method_name_size" (func $name_size (result i32)))
  (import "ic0" "msg_method_name_copy" (func $name_copy (param i32 i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_caller_size" (func $caller_size (result i32)))
  (import "ic0" "accept_message" (func $accept))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "trap" (func $trap (param i32 i32)))
  (memory 1)
  (data (i32.const 100) "blocked")
  (data (i32.const 110) "trap")
  (data (i32.const 120) "spin")
  (data (i32.const 130) "inspect: trap")
  (data (i32.const 150) "ran")
  (data (i32.const 160) "no")

  ;; Whether the bytes at 200 (n of them) equal the len bytes at `at`.
  (func $eq (param $n i32) (param $at i32) (param $len i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (local.get $len)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 200) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $at) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func (export "canister_inspect_message")
    (local $n i32)
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (if (i32.eq (call $caller_size) (i32.const 1)) (then (return)))
    (local.set $n (call $arg_size))
    (if (i32.eq (local.get $n) (i32.const 2))
      (then
        (call $arg_copy (i32.const 200) (i32.const 0) (i32.const 2))
        (if (call $eq (i32.const 2) (i32.const 160) (i32.const 2)) (then (return)))))
    (local.set $n (call $name_size))
    (if (i32.gt_u (local.get $n) (i32.const 32)) (then (call $accept) (return)))
    (call $name_copy (i32.const 200) (i32.const 0) (local.get $n))
    (if (call $eq (local.get $n) (i32.const 100) (i32.const 7)) (then (return)))
    (if (call $eq (local.get $n) (i32.const 110) (i32.const 4))
      (then (call $trap (i32.const 130) (i32.const 13))))
    (if (call $eq (local.get $n) (i32.const 120) (i32.const 4))
      (then (loop $forever (br $forever))))
    (call $accept))

  (func $reply_counter
    (call $append (i32.const 0) (i32.const 8))
    (call $reply))
  (func $ran
    (call $append (i32.const 150) (i32.const 3))
    (call $reply))

  (func (export "canister_update inc")
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (call $reply_counter))
  (func (export "canister_update blocked") (call $ran))
  (func (export "canister_update trap") (call $ran))
  (func (export "canister_update spin") (call $ran))
  (func (export "canister_query get") (call $reply_counter)))
