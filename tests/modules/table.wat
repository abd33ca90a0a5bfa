;; table.wat - reference types and bulk memory: a funcref table, call_indirect, ref.func,
;; table.get/size, a passive data segment with memory.init and data.drop.
(module
  (type $unop (func (param i32) (result i32)))
  (table $t 4 funcref)
  (memory 1)
  (elem (table $t) (i32.const 0) func $double $square)
  (data $greeting "hi!")
  (func $double (type $unop) (i32.mul (local.get 0) (i32.const 2)))
  (func $square (type $unop) (i32.mul (local.get 0) (local.get 0)))
  (func (export "apply") (param $f i32) (param $x i32) (result i32)
    (call_indirect $t (type $unop) (local.get $x) (local.get $f)))
  (func (export "is_empty") (param $i i32) (result i32)
    (ref.is_null (table.get $t (local.get $i))))
  (func (export "size") (result i32) (table.size $t))
  (func (export "init") (param $dst i32)
    (memory.init $greeting (local.get $dst) (i32.const 0) (i32.const 3))
    (data.drop $greeting)))
