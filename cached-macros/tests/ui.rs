//! Compile-time behaviour of the attributes: every supported shape compiles (`ui/pass`),
//! every invalid use fails with its error on the right token (`ui/fail`, `.stderr` files).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
