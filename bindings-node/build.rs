fn main() {
    napi_build::setup();
    // Release builds for x86-64 Linux link with rust-lld (Rust's default there): fold identical
    // functions, of which monomorphised serde and napi glue leave many. `safe` keeps any function
    // whose address is taken distinct. Other targets (the arm64 cross build) use GNU ld.
    let target = std::env::var("TARGET").unwrap_or_default();
    let profile = std::env::var("PROFILE").unwrap_or_default();
    if target == "x86_64-unknown-linux-gnu" && profile == "release" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--icf=all");
    }
}
