fn main() {
    napi_build::setup();
    // build.sh sets curve25519-dalek's backend cfg through RUSTFLAGS; lib.rs reads it to report the chosen backend.
    println!("cargo::rustc-check-cfg=cfg(curve25519_dalek_backend, values(\"simd\", \"avx512\", \"serial\", \"fiat\"))");
}
