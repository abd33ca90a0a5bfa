;; host_one.wat - the canister of `tally bench host` importing only the two ic0 functions it
;; calls; host_many.wat is the same code importing all 49 supported ones (docs/benchmarks.md).
(module
  (import "ic0" "msg_arg_data_size" (func $msg_arg_data_size (result i32)))
  (import "ic0" "msg_reply" (func $msg_reply))
  (memory 1)
  ;; 100 host calls in a loop; the sum of their results goes to memory, then an empty reply.
  (func (export "canister_update calls")
    (local $i i32)
    (local $s i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (call $msg_arg_data_size)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (i32.const 100))))
    (i32.store (i32.const 0) (local.get $s))
    (call $msg_reply))
  ;; No host call but the reply: the per-message setup cost.
  (func (export "canister_update empty")
    (call $msg_reply)))
