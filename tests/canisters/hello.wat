;; hello.wat - the smallest tally canister: `canister_query greet` replies the 5 bytes "hello".
;; Imports only msg_reply_data_append and msg_reply from "ic0" (host-api/ic0.def).
(module
  (import "ic0" "msg_reply_data_append" (func $reply_append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func $greet (export "canister_query greet")
    (call $reply_append (i32.const 16) (i32.const 5))
    (call $reply)))
