//! How ccc-sync names itself to Alibaba Cloud services: CCC and the token services alike. A leaf, so the
//! client and the credential providers both import it and neither imports the other.

/// `AlibabaCloud (<os>; <arch>) Rust/<ver> Core/<ver> ccc-sync/<ver>`, the official SDKs' convention.
pub(crate) fn user_agent() -> String {
    format!(
        "AlibabaCloud ({}; {}) Rust/{} Core/{ver} ccc-sync/{ver}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        env!("CARGO_PKG_RUST_VERSION"),
        ver = env!("CARGO_PKG_VERSION"),
    )
}
