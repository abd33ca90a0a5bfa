;; loop.wat - sums 1..n with a loop and br_if, plus a br_table dispatch and a multi-value block.
(module
  (func (export "sum") (param $n i32) (result i32)
    (local $acc i32)
    (block $exit
      (loop $top
        (br_if $exit (i32.eqz (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $top)))
    (local.get $acc))
  (func (export "classify") (param $x i32) (result i32)
    (block $other
      (block $one
        (block $zero
          (br_table $zero $one $other (local.get $x)))
        (return (i32.const 100)))
      (return (i32.const 101)))
    (i32.const 199))
  (func (export "swap") (param i32 i32) (result i32 i32)
    (local.get 0) (local.get 1)
    (block (param i32 i32) (result i32 i32)
      (local.set 0) (local.set 1)
      (local.get 0) (local.get 1))))
