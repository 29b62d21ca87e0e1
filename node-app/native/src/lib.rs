//! BIZRA native verifier: N-API bindings (napi-rs v2) over `verify.rs`.
//!
//! Sync entry points borrow the caller's Buffer / Uint8Array memory directly
//! (`&[u8]` from `napi_get_typedarray_info`; no copy, no reference created).
//! The async entry point holds N-API references to the same memory (still no
//! copy) while the work runs on the libuv threadpool; callers must not mutate
//! the inputs until the promise settles.

#![deny(clippy::all)]

pub mod verify;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use verify::Msgs;

fn type_error(msg: String) -> Error {
    Error::new(Status::InvalidArg, msg)
}

/// ZIP-215 single verification. Wrong lengths / malformed key -> false.
#[napi]
pub fn verify_one(pubkey: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    verify::verify_one(pubkey, msg, sig)
}

/// Batch verification with per-item results (1 valid / 0 invalid).
/// `msgs` is either n concatenated 32-byte digests or an array of n messages.
#[napi]
pub fn verify_batch(
    pubkeys: &[u8],
    msgs: Either<&[u8], Vec<&[u8]>>,
    sigs: &[u8],
) -> Result<Uint8Array> {
    let msgs = match msgs {
        Either::A(b) => Msgs::Fixed32(b),
        Either::B(v) => Msgs::List(v),
    };
    let n = verify::check_shape(pubkeys.len(), &msgs, sigs.len()).map_err(type_error)?;
    Ok(Uint8Array::new(verify::verify_batch(pubkeys, &msgs, sigs, n)))
}

pub struct BatchTask {
    pubkeys: Uint8Array,
    msgs: Either<Uint8Array, Vec<Uint8Array>>,
    sigs: Uint8Array,
    n: usize,
}

impl Task for BatchTask {
    type Output = Vec<u8>;
    type JsValue = Uint8Array;

    fn compute(&mut self) -> Result<Self::Output> {
        let msgs = match &self.msgs {
            Either::A(b) => Msgs::Fixed32(b.as_ref()),
            Either::B(v) => Msgs::List(v.iter().map(|m| m.as_ref()).collect()),
        };
        Ok(verify::verify_batch(
            self.pubkeys.as_ref(),
            &msgs,
            self.sigs.as_ref(),
            self.n,
        ))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
        Ok(Uint8Array::new(output))
    }
}

/// Same as verifyBatch, but the work runs on the libuv threadpool.
#[napi(ts_return_type = "Promise<Uint8Array>")]
pub fn verify_batch_async(
    pubkeys: Uint8Array,
    msgs: Either<Uint8Array, Vec<Uint8Array>>,
    sigs: Uint8Array,
) -> Result<AsyncTask<BatchTask>> {
    let n = {
        let m = match &msgs {
            Either::A(b) => Msgs::Fixed32(b.as_ref()),
            Either::B(v) => Msgs::List(v.iter().map(|m| m.as_ref()).collect()),
        };
        verify::check_shape(pubkeys.len(), &m, sigs.len()).map_err(type_error)?
    };
    Ok(AsyncTask::new(BatchTask {
        pubkeys,
        msgs,
        sigs,
        n,
    }))
}

/// BLAKE3-256 of each `data[offsets[i]..offsets[i+1]]` into `out` (32 bytes each, n = offsets.length - 1).
#[napi]
pub fn blake3_into(data: &[u8], offsets: &[u32], mut out: Uint8Array) -> Result<()> {
    let out: &mut [u8] = out.as_mut();
    let n = verify::check_offsets(data.len(), offsets).map_err(type_error)?;
    if out.len() != n * 32 {
        return Err(type_error(format!("blake3Into: out length {} does not equal 32 * {}", out.len(), n)));
    }
    verify::blake3_into(data, offsets, out);
    Ok(())
}

/// Attestation batch: hash each encoding with BLAKE3-256 (the signed message) and verify the ZIP-215 signature over
/// that digest. Writes n digests to `digests` and n verdicts (1/0) to `verdicts`; `batch` selects the batch equation
/// (bisected on failure) or single verification.
#[napi]
pub fn verify_encoded(
    pubkeys: &[u8],
    data: &[u8],
    offsets: &[u32],
    sigs: &[u8],
    mut digests: Uint8Array,
    mut verdicts: Uint8Array,
    batch: bool,
) -> Result<()> {
    let digests: &mut [u8] = digests.as_mut();
    let verdicts: &mut [u8] = verdicts.as_mut();
    let n = verify::check_offsets(data.len(), offsets).map_err(type_error)?;
    if pubkeys.len() != n * 32 || sigs.len() != n * 64 || digests.len() != n * 32 || verdicts.len() != n {
        return Err(type_error(format!(
            "verifyEncoded: expected pubkeys {}, sigs {}, digests {}, verdicts {} bytes",
            n * 32, n * 64, n * 32, n
        )));
    }
    verify::verify_encoded(pubkeys, data, offsets, sigs, digests, verdicts, batch);
    Ok(())
}

/// The curve25519-dalek backend that runs on this CPU, decided as curve25519-dalek 5 decides it (`get_selected_backend`
/// in its `backend.rs`: AVX-512 IFMA when compiled in and the CPU has avx512ifma + avx512vl, else AVX2 when the CPU has
/// avx2, else the portable serial code). build.sh compiles the AVX-512 IFMA backend in on x86_64 (cfg
/// `curve25519_dalek_backend="avx512"`, which also keeps the AVX2 one), so one `.node` picks the best at run time.
pub fn curve_backend() -> &'static str {
    #[cfg(all(target_arch = "x86_64", curve25519_dalek_backend = "avx512"))]
    if std::is_x86_feature_detected!("avx512ifma") && std::is_x86_feature_detected!("avx512vl") {
        return "avx512ifma";
    }
    #[cfg(all(target_arch = "x86_64", not(curve25519_dalek_backend = "serial"), not(curve25519_dalek_backend = "fiat")))]
    if std::is_x86_feature_detected!("avx2") {
        return "avx2";
    }
    "serial"
}

/// Whether this build contains the AVX-512 IFMA backend at all.
const AVX512_COMPILED: bool = cfg!(all(target_arch = "x86_64", curve25519_dalek_backend = "avx512"));

/// Build facts for diagnostics and evidence.
#[napi]
pub fn backend_info() -> String {
    #[cfg(target_arch = "x86_64")]
    let (avx2, ifma) = (
        std::is_x86_feature_detected!("avx2"),
        std::is_x86_feature_detected!("avx512ifma") && std::is_x86_feature_detected!("avx512vl"),
    );
    #[cfg(not(target_arch = "x86_64"))]
    let (avx2, ifma) = (false, false);
    format!(
        "{{\"crate\":\"bizra_native {}\",\"verifier\":\"ed25519-zebra 5.0.0 (ZIP-215) single; cached-key cofactored batch equation on curve25519-dalek (zebra semantics)\",\"curve\":\"curve25519-dalek 5.0.0\",\"curveBackend\":\"{}\",\"avx512Compiled\":{},\"arch\":\"{}\",\"cpuAvx2\":{},\"cpuAvx512Ifma\":{},\"singleThreshold\":{},\"hash\":\"blake3 1.8.7\"}}",
        env!("CARGO_PKG_VERSION"),
        curve_backend(),
        AVX512_COMPILED,
        std::env::consts::ARCH,
        avx2,
        ifma,
        verify::SINGLE_THRESHOLD
    )
}

/// The signature ceiling, measured without JavaScript in the loop: `threads` Rust threads verify `rounds` passes over
/// pre-decoded items (n keys, n 32-byte digests, n signatures, as the pipeline hands them to the addon) in chunks of
/// `chunk` with the same batch routine the workers call (`verify_batch`: ZIP-215 batch equation with bisection).
/// Chunks are handed out from a shared counter, so both threads stay busy to the end. Blocks the calling thread.
/// Returns `[items verified, items valid, seconds]`.
#[napi]
pub fn bench_ceiling(pubkeys: &[u8], digests: &[u8], sigs: &[u8], threads: u32, chunk: u32, rounds: u32) -> Result<Vec<f64>> {
    let n = verify::check_shape(pubkeys.len(), &Msgs::Fixed32(digests), sigs.len()).map_err(type_error)?;
    if threads == 0 || chunk == 0 || rounds == 0 || n == 0 {
        return Err(type_error("benchCeiling: threads, chunk, rounds and the item count must be positive".into()));
    }
    let chunk = chunk as usize;
    let per_round = n.div_ceil(chunk);
    let total = per_round * rounds as usize;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let (items, valid) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let (mut items, mut valid) = (0usize, 0usize);
                    loop {
                        let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if j >= total {
                            break;
                        }
                        let from = (j % per_round) * chunk;
                        let to = (from + chunk).min(n);
                        let m = to - from;
                        let out = verify::verify_batch(
                            &pubkeys[from * 32..to * 32],
                            &Msgs::Fixed32(&digests[from * 32..to * 32]),
                            &sigs[from * 64..to * 64],
                            m,
                        );
                        items += m;
                        valid += out.iter().filter(|&&v| v == 1).count();
                    }
                    (items, valid)
                })
            })
            .collect();
        workers.into_iter().fold((0usize, 0usize), |(a, b), w| {
            let (x, y) = w.join().unwrap_or((0, 0));
            (a + x, b + y)
        })
    });
    Ok(vec![items as f64, valid as f64, started.elapsed().as_secs_f64()])
}
