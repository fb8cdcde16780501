//! The `ccc-sync` command line.
fn main() {}
