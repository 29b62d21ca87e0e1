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

/// Build facts for diagnostics and evidence.
#[napi]
pub fn backend_info() -> String {
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    format!(
        "{{\"crate\":\"bizra_native {}\",\"verifier\":\"ed25519-zebra 5.0.0 (ZIP-215) single; cached-key cofactored batch equation on curve25519-dalek (zebra semantics)\",\"curve\":\"curve25519-dalek 5.0.0\",\"arch\":\"{}\",\"cpuAvx2\":{},\"singleThreshold\":{},\"hash\":\"blake3 1.8.7\"}}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        avx2,
        verify::SINGLE_THRESHOLD
    )
}
