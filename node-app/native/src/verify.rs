//! Pure-Rust verification core (no N-API types): ZIP-215 Ed25519 single
//! verification via `ed25519-zebra`, and a hand-written batch equation on
//! curve25519-dalek with exactly zebra 5's semantics (see `batch_ok`) that
//! uses a bounded per-thread cache of decompressed validator keys, with
//! per-item results on batch failure (bisection; singles inside bisection
//! use the same cofactored equation as zebra's `verify_prehashed`).
//!
//! Rules (ZIP-215, as implemented by ed25519-zebra 5 for BOTH the single and
//! the batch path):
//!   * A and R must decode to curve points; non-canonical encodings
//!     (y >= p, or x = 0 with the sign bit set) are ACCEPTED;
//!   * S must be canonical, i.e. S < L (S >= L is REJECTED);
//!   * the cofactored equation [8][S]B = [8]R + [8][k]A is used (small-order
//!     and mixed-order A / R are therefore accepted when the equation holds).
//!
//! Batch verification with random 128-bit z_i checks
//! [8](-(sum z_i s_i) B + sum z_i R_i + sum (z_i k_i) A_i) = 0, which is
//! satisfied whenever every item satisfies its own cofactored equation, so a
//! batch of individually valid items always passes. A failing batch therefore
//! proves that at least one item is invalid; `resolve` uses that fact while
//! bisecting so that each item gets its own answer and a bad item never makes
//! an honest one fail.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_zebra::{Signature, VerificationKey};
use rand::RngExt;
use sha2::{Digest, Sha512};
use std::collections::HashMap;

/// Groups at or below this size are checked item by item instead of by a
/// (sub-)batch during bisection.
pub const SINGLE_THRESHOLD: usize = 2;

/// The group order L = 2^252 + 27742317777372353535851937790883648493, little endian.
const L_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// S < L, compared as 256-bit little-endian integers (variable time; S is public).
/// This is only a cheap pre-filter; zebra performs the same check itself.
#[inline]
pub fn s_is_canonical(s: &[u8]) -> bool {
    debug_assert_eq!(s.len(), 32);
    for i in (0..32).rev() {
        if s[i] < L_LE[i] {
            return true;
        }
        if s[i] > L_LE[i] {
            return false;
        }
    }
    false // S == L
}

#[inline]
fn to32(b: &[u8]) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(b);
    a
}

#[inline]
fn to64(b: &[u8]) -> [u8; 64] {
    let mut a = [0u8; 64];
    a.copy_from_slice(b);
    a
}

/// Slots in the per-thread cache of decoded verification keys (power of two).
const VK_CACHE_SLOTS: usize = 1024;

thread_local! {
    /// Direct-mapped cache: key bytes -> decoded key (zebra's own
    /// `VerificationKey`, i.e. the result of `VerificationKey::try_from`).
    /// A hit compares all 32 bytes, so it can only skip a decompression,
    /// never change an answer. Keys that fail to decode are not cached.
    static VK_CACHE: std::cell::RefCell<Vec<Option<([u8; 32], VerificationKey)>>> =
        std::cell::RefCell::new(vec![None; VK_CACHE_SLOTS]);
}

fn decode_vk(pk: [u8; 32]) -> Option<VerificationKey> {
    let slot = (u16::from_le_bytes([pk[0], pk[1]]) as usize ^ pk[31] as usize) & (VK_CACHE_SLOTS - 1);
    VK_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((bytes, vk)) = &c[slot] {
            if *bytes == pk {
                return Some(*vk);
            }
        }
        let vk = VerificationKey::try_from(pk).ok()?;
        c[slot] = Some((pk, vk));
        Some(vk)
    })
}

/// Single ZIP-215 verification. Wrong lengths or malformed keys give `false`.
pub fn verify_one(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    if pk.len() != 32 || sig.len() != 64 {
        return false;
    }
    let vk = match decode_vk(to32(pk)) {
        Some(vk) => vk,
        None => return false,
    };
    let sig = Signature::from_bytes(&to64(sig));
    vk.verify(&sig, msg).is_ok()
}

/// Slots in the per-thread cache of decompressed public keys A (power of two).
const POINT_CACHE_SLOTS: usize = 1024;

thread_local! {
    /// Direct-mapped, bounded cache: key bytes -> `CompressedEdwardsY(bytes).decompress()` (the exact point the
    /// batch equation uses). A hit compares all 32 bytes, so it can only skip a decompression, never change an
    /// answer. Bytes that do not decompress are not cached.
    static POINT_CACHE: std::cell::RefCell<Vec<Option<([u8; 32], EdwardsPoint)>>> =
        std::cell::RefCell::new(vec![None; POINT_CACHE_SLOTS]);
}

/// `CompressedEdwardsY::decompress` of a public key (ZIP-215: non-canonical encodings are accepted), cached.
fn decompress_key(pk: &[u8; 32]) -> Option<EdwardsPoint> {
    let slot = (u16::from_le_bytes([pk[0], pk[1]]) as usize ^ ((pk[31] as usize) << 2)) & (POINT_CACHE_SLOTS - 1);
    POINT_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if let Some((bytes, p)) = &c[slot] {
            if bytes == pk {
                return Some(*p);
            }
        }
        let p = CompressedEdwardsY(*pk).decompress()?;
        c[slot] = Some((*pk, p));
        Some(p)
    })
}

/// One prepared batch item: A (cached decompression), R (decompressed), S (canonical), k = SHA-512(R || A || M)
/// reduced mod L over the bytes AS RECEIVED (never re-encoded points), exactly as ed25519-zebra 5 computes them.
pub struct Prepared {
    a_bytes: [u8; 32],
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Prepares an item, or `None` when it cannot be valid under ZIP-215 (wrong lengths, S >= L, A or R not a curve
/// point): zebra rejects exactly these in both its single and batch paths.
#[inline]
pub fn make_item(pk: &[u8], msg: &[u8], sig: &[u8]) -> Option<Prepared> {
    if pk.len() != 32 || sig.len() != 64 || !s_is_canonical(&sig[32..]) {
        return None;
    }
    let a_bytes = to32(pk);
    let r_bytes = to32(&sig[..32]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(to32(&sig[32..])))?;
    let a = decompress_key(&a_bytes)?;
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    let h = Sha512::new().chain_update(r_bytes).chain_update(a_bytes).chain_update(msg).finalize();
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h);
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    Some(Prepared { a_bytes, a, r, s, k })
}

/// Cofactored single check [8]([S]B - [k]A - R) == 0 (zebra's `verify_prehashed`).
fn single(p: &Prepared) -> u8 {
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&(-p.k), &p.a, &p.s);
    (sb_minus_ka - p.r).mul_by_cofactor().is_identity() as u8
}

/// Cofactored batch equation with random 128-bit z_i, as ed25519-zebra 5 `batch::Verifier::verify`:
/// [8]( [-sum z_i s_i]B + sum [z_i]R_i + sum_A [sum_{i: A_i = A} z_i k_i]A ) == 0, with the A terms coalesced per
/// distinct key (n + m + 1 points for n signatures by m keys).
fn batch_ok(items: &[Option<Prepared>], idx: &[usize]) -> bool {
    let mut rng = rand::rng();
    let mut b_coeff = Scalar::ZERO;
    let mut a_at: HashMap<[u8; 32], usize> = HashMap::with_capacity(idx.len());
    let mut a_coeffs: Vec<Scalar> = Vec::with_capacity(idx.len());
    let mut a_pts: Vec<EdwardsPoint> = Vec::with_capacity(idx.len());
    let mut r_coeffs: Vec<Scalar> = Vec::with_capacity(idx.len());
    let mut r_pts: Vec<EdwardsPoint> = Vec::with_capacity(idx.len());
    for &i in idx {
        // Only indices of `Some` items are ever passed in.
        let p = match &items[i] {
            Some(p) => p,
            None => return false,
        };
        let z = Scalar::from(rng.random::<u128>());
        b_coeff -= z * p.s;
        r_pts.push(p.r);
        r_coeffs.push(z);
        let j = *a_at.entry(p.a_bytes).or_insert_with(|| {
            a_pts.push(p.a);
            a_coeffs.push(Scalar::ZERO);
            a_pts.len() - 1
        });
        a_coeffs[j] += z * p.k;
    }
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(&b_coeff).chain(a_coeffs.iter()).chain(r_coeffs.iter()),
        std::iter::once(&ED25519_BASEPOINT_POINT).chain(a_pts.iter()).chain(r_pts.iter()),
    );
    check.mul_by_cofactor().is_identity()
}

/// Per-item resolution of a batch, by bisection with a work budget.
///
/// Bisection finds a few invalid items cheaply (about one extra pass over the
/// batch for one bad item), but when invalid items are dense it would cost
/// O(n log n) batched items, more than verifying each item once. `budget`
/// caps the items queued into sub-batches after the first failed batch;
/// once spent, the remaining groups are verified item by item, so the worst
/// case stays a small multiple of plain single verification.
struct Resolver<'a> {
    items: &'a [Option<Prepared>],
    out: Vec<u8>,
    budget: usize,
}

impl Resolver<'_> {
    fn singles(&mut self, idx: &[usize]) {
        for &i in idx {
            self.out[i] = self.items[i].as_ref().map_or(0, single);
        }
    }

    /// `Some(true/false)` = sub-batch result, `None` = budget spent (caller
    /// falls back to single verification).
    fn try_batch(&mut self, idx: &[usize]) -> Option<bool> {
        if idx.len() > self.budget {
            return None;
        }
        self.budget -= idx.len();
        let ok = batch_ok(self.items, idx);
        if ok {
            for &i in idx {
                self.out[i] = 1;
            }
        }
        Some(ok)
    }

    /// Resolve a group: `known_bad` means a batch over exactly this group
    /// already failed, so at least one of its items is invalid.
    fn resolve(&mut self, idx: &[usize], known_bad: bool) {
        if idx.is_empty() {
            return;
        }
        if known_bad && idx.len() == 1 {
            self.out[idx[0]] = 0;
            return;
        }
        if idx.len() <= SINGLE_THRESHOLD {
            return self.singles(idx);
        }
        if !known_bad {
            match self.try_batch(idx) {
                Some(true) => return,
                Some(false) => {}
                None => return self.singles(idx),
            }
        }
        // The group holds at least one invalid item: bisect.
        let (left, right) = idx.split_at(idx.len() / 2);
        let left_all_ok = if left.len() > SINGLE_THRESHOLD {
            match self.try_batch(left) {
                Some(true) => true,
                Some(false) => {
                    self.resolve(left, true);
                    false
                }
                None => {
                    self.singles(left);
                    left.iter().all(|&i| self.out[i] == 1)
                }
            }
        } else {
            self.singles(left);
            left.iter().all(|&i| self.out[i] == 1)
        };
        // If the left half is all valid, the invalid item(s) are on the
        // right, so the right half needs no batch of its own before splitting.
        self.resolve(right, left_all_ok);
    }
}

/// Verify prepared items, giving one 1/0 per item.
pub fn verify_items(items: &[Option<Prepared>]) -> Vec<u8> {
    let idx: Vec<usize> = (0..items.len()).filter(|&i| items[i].is_some()).collect();
    let mut r = Resolver {
        items,
        out: vec![0u8; items.len()],
        // The first batch over everything, then up to `idx.len()` more
        // batched items for bisection.
        budget: 2 * idx.len(),
    };
    if idx.len() == 1 {
        r.singles(&idx);
    } else {
        r.resolve(&idx, false);
    }
    r.out
}

/// Messages of a batch: either n concatenated 32-byte digests or n slices.
pub enum Msgs<'a> {
    Fixed32(&'a [u8]),
    List(Vec<&'a [u8]>),
}

impl<'a> Msgs<'a> {
    pub fn len(&self) -> usize {
        match self {
            Msgs::Fixed32(b) => b.len() / 32,
            Msgs::List(v) => v.len(),
        }
    }
    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        match self {
            Msgs::Fixed32(b) => &b[i * 32..i * 32 + 32],
            Msgs::List(v) => v[i],
        }
    }
}

/// Structural check shared by the sync and async entry points.
pub fn check_shape(pks_len: usize, msgs: &Msgs, sigs_len: usize) -> Result<usize, String> {
    if pks_len % 32 != 0 {
        return Err(format!(
            "verifyBatch: pubkeys length {} is not a multiple of 32",
            pks_len
        ));
    }
    let n = pks_len / 32;
    if sigs_len != n * 64 {
        return Err(format!(
            "verifyBatch: sigs length {} does not equal 64 * {} (count from pubkeys)",
            sigs_len, n
        ));
    }
    match msgs {
        Msgs::Fixed32(b) => {
            if b.len() != n * 32 {
                return Err(format!(
                    "verifyBatch: concatenated msgs length {} does not equal 32 * {} (count from pubkeys)",
                    b.len(),
                    n
                ));
            }
        }
        Msgs::List(v) => {
            if v.len() != n {
                return Err(format!(
                    "verifyBatch: msgs array has {} entries, expected {} (count from pubkeys)",
                    v.len(),
                    n
                ));
            }
        }
    }
    Ok(n)
}

/// Whole batch: shape must already be checked.
pub fn verify_batch(pks: &[u8], msgs: &Msgs, sigs: &[u8], n: usize) -> Vec<u8> {
    let items: Vec<Option<Prepared>> = (0..n)
        .map(|i| {
            make_item(
                &pks[i * 32..i * 32 + 32],
                msgs.get(i),
                &sigs[i * 64..i * 64 + 64],
            )
        })
        .collect();
    verify_items(&items)
}

/// Checks an offsets table for `data`: n+1 non-decreasing offsets, the last
/// one within `data`. Returns n.
pub fn check_offsets(data_len: usize, offsets: &[u32]) -> Result<usize, String> {
    if offsets.is_empty() {
        return Err("offsets must hold n + 1 entries".into());
    }
    let mut prev = offsets[0] as usize;
    for &o in &offsets[1..] {
        let o = o as usize;
        if o < prev {
            return Err("offsets must be non-decreasing".into());
        }
        prev = o;
    }
    if prev > data_len {
        return Err(format!("last offset {} exceeds data length {}", prev, data_len));
    }
    Ok(offsets.len() - 1)
}

/// BLAKE3-256 of each `data[offsets[i]..offsets[i+1]]`, written to `out[32i..32i+32]`.
pub fn blake3_into(data: &[u8], offsets: &[u32], out: &mut [u8]) {
    for i in 0..offsets.len() - 1 {
        let m = &data[offsets[i] as usize..offsets[i + 1] as usize];
        out[i * 32..i * 32 + 32].copy_from_slice(blake3::hash(m).as_bytes());
    }
}

/// Hash each encoding (BLAKE3-256, the signed message) and verify the
/// signature over that digest with the same ZIP-215 rule as `verify_batch`
/// (batch equation with bisection) or `verify_one` (item by item).
/// Digests go to `digests`, 1/0 verdicts to `verdicts`. Shapes must already be checked.
pub fn verify_encoded(
    pks: &[u8],
    data: &[u8],
    offsets: &[u32],
    sigs: &[u8],
    digests: &mut [u8],
    verdicts: &mut [u8],
    batch: bool,
) {
    let n = offsets.len() - 1;
    blake3_into(data, offsets, digests);
    if batch && n > 1 {
        let out = verify_batch(pks, &Msgs::Fixed32(&digests[..n * 32]), sigs, n);
        verdicts[..n].copy_from_slice(&out);
    } else {
        for i in 0..n {
            verdicts[i] = verify_one(
                &pks[i * 32..i * 32 + 32],
                &digests[i * 32..i * 32 + 32],
                &sigs[i * 64..i * 64 + 64],
            ) as u8;
        }
    }
}
