;; counter.wat - the counter canister of tests/abci (and, as bytes, of tally bench localnet):
;; update inc adds one to a u32 at address 0 and replies it (4 bytes LE); query get replies it.
(module
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_update inc")
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
    (call $append (i32.const 0) (i32.const 4))
    (call $reply))
  (func (export "canister_query get")
    (call $append (i32.const 0) (i32.const 4))
    (call $reply)))
