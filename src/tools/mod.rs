//! The tools around the product, which only the binary carries: `ccc-sync demo` and `ccc-sync bench`, both
//! run against the built-in simulator (the `ccc-simulator` crate). The sync library knows nothing of them.

pub mod bench;
pub mod demo;
