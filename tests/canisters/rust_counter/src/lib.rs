// A counter canister built with the Rust CDK (ic-cdk): set, inc, get, and its Candid interface
// in the module's custom section `icp:public candid:service` (added after the build, as dfx
// does, from rust_counter.did).
use std::cell::Cell;

use candid::Nat;

thread_local! {
    static COUNT: Cell<u64> = Cell::new(0);
}

fn count() -> u64 {
    COUNT.with(|c| c.get())
}

#[ic_cdk::update]
fn set(n: Nat) {
    let v: u64 = n.0.try_into().expect("set: the count must be below 2^64");
    COUNT.with(|c| c.set(v));
}

#[ic_cdk::update]
fn inc() -> Nat {
    COUNT.with(|c| c.set(c.get().wrapping_add(1)));
    Nat::from(count())
}

#[ic_cdk::query]
fn get() -> Nat {
    Nat::from(count())
}
