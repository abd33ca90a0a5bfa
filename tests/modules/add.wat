;; add.wat - the smallest useful module: one exported function adding two i32s.
(module
  (func (export "add") (param $a i32) (param $b i32) (result i32)
    local.get $a
    local.get $b
    i32.add))
