;; charge.wat - the metering charge's shapes for the compiled tier (emit.c emit_charge), run by
;; test_native.c against the interpreter. $c, the most-set mutable global, is the register
;; global; each function charges it at every loop start, the way engine/instrument does or
;; nearly so (emit_charge must take only the exact shape, and each near miss must still run as
;; plain instructions). $over traps, $count counts in memory[0].
(module
  (memory 1)
  (global $c (export "c") (mut i64) (i64.const 0))
  (global $other (export "other") (mut i64) (i64.const 0))
  (func $over unreachable)
  (func $count (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1))))
  (func (export "hits") (result i32) (i32.load (i32.const 0)))
  (func (export "reset") (param i64)
    (global.set $c (local.get 0)) (global.set $other (i64.const 0))
    (i32.store (i32.const 0) (i32.const 0)))
  ;; the exact shape: $c -= 5, then if $c < 0 call $over (a trap)
  (func (export "exact") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.sub global.set $c
      global.get $c i64.const 0 i64.lt_s if call $over end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  ;; the charge alone, without a check
  (func (export "nocheck") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 7 i64.sub global.set $c
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  ;; near misses of the check: against 1; with le_s; a callee that does not trap; more in the if
  (func (export "against1") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.sub global.set $c
      global.get $c i64.const 1 i64.lt_s if call $count end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  (func (export "le") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.sub global.set $c
      global.get $c i64.const 0 i64.le_s if call $count end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  (func (export "counted") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.sub global.set $c
      global.get $c i64.const 0 i64.lt_s if call $count end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  (func (export "more") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.sub global.set $c
      global.get $c i64.const 0 i64.lt_s if call $count global.get $c i64.const 2 i64.add global.set $c end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  ;; near misses of the charge: add instead of sub; the result set into another global
  (func (export "add") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 5 i64.add global.set $c
      global.get $c i64.const 0 i64.lt_s if call $over end
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $c)
  (func (export "elsewhere") (param $n i32) (result i64)
    (loop $l
      global.get $c i64.const 3 i64.sub global.set $other
      global.get $other global.set $c
      local.get $n i32.const 1 i32.sub local.tee $n br_if $l)
    global.get $other)
)
