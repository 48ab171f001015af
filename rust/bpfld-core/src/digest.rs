// SPDX-License-Identifier: GPL-2.0-only OR MIT

//! The fs-verity file digest, computed in software, plus plain SHA-256 helpers.
//!
//! The module's trust policy compares the digest the kernel reports for a file
//! (`fsverity_get_digest()`) with enrolled ones; enrollment tools compute that digest here
//! before the file is on an fs-verity filesystem. Only the parameters Android and
//! `fsverity enable` use by default are supported: SHA-256, 4096-byte Merkle tree blocks,
//! no salt. The result equals `fsverity digest --compact FILE` (fsverity-utils).
//!
//! Construction (Linux 6.12 `fs/verity/{open,enable}.c`):
//! - The data is cut into 4096-byte blocks, the last one zero-padded; each block's
//!   SHA-256 goes into the next level, whose blocks (128 digests each, the last one
//!   zero-padded too) are hashed in turn, until one block remains: its hash is the root
//!   hash. A file of at most one block has no tree levels: the root hash is the hash of
//!   its (padded) data block. An empty file's root hash is all zeros.
//! - The file digest is the SHA-256 of the 256-byte `struct fsverity_descriptor`
//!   (version 1, algorithm, log2 block size, salt size 0, data size, root hash), with
//!   `sig_size` zero as the kernel hashes it.
//!
//! Streaming needs no buffers: SHA-256 is itself incremental, so each pending block (data
//! or tree level) is held as a running hash state (about 100 bytes) rather than 4 KiB of
//! bytes. [`VerityHasher`] is therefore a fixed-size value of about 1 KiB, and a file of
//! any size is hashed without holding it. The size must be known up front (it is in the
//! descriptor and fixes the tree's shape); feeding more or fewer bytes is an error, which
//! also catches a file that changed size while it was read.

use crate::error::{Ctx, Error, Result, What};
use crate::limits::MAX_VERITY_LEVELS;
use sha2::{Digest, Sha256};

/// The fs-verity number of SHA-256 (`FS_VERITY_HASH_ALG_SHA256` in
/// `include/uapi/linux/fsverity.h`), as reported by `fsverity_get_digest()`.
pub const FS_VERITY_HASH_ALG_SHA256: u8 = 1;

/// Merkle tree block size used here, and the default of `fsverity enable` on 4 KiB pages.
pub const FSVERITY_BLOCK_SIZE: usize = 4096;

/// log2 of [`FSVERITY_BLOCK_SIZE`], as stored in the descriptor.
pub const FSVERITY_LOG_BLOCK_SIZE: u8 = 12;

/// Bytes of a SHA-256 digest.
pub const SHA256_DIGEST_SIZE: usize = 32;

/// Size of `struct fsverity_descriptor` without the appended signature.
const DESCRIPTOR_SIZE: usize = 256;

/// The only descriptor version the kernel knows.
const DESCRIPTOR_VERSION: u8 = 1;

/// Digests per tree block: the tree's arity.
const HASHES_PER_BLOCK: usize = FSVERITY_BLOCK_SIZE / SHA256_DIGEST_SIZE;

/// Source of the zero padding of partial blocks.
static ZERO_BLOCK: [u8; FSVERITY_BLOCK_SIZE] = [0; FSVERITY_BLOCK_SIZE];

/// Plain SHA-256 of the concatenation of `parts` (e.g. for receipts).
pub fn sha256(parts: &[&[u8]]) -> [u8; SHA256_DIGEST_SIZE] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Lowercase hex of a digest, written into `out` without allocating.
pub fn hex<'o>(
    digest: &[u8; SHA256_DIGEST_SIZE],
    out: &'o mut [u8; 2 * SHA256_DIGEST_SIZE],
) -> &'o str {
    hex_into(digest, out)
}

/// Lowercase hex of `bytes`, two digits a byte from a table, written into `out`
/// without allocating: as many bytes as `out` has room for (half its length), the
/// rest left out. The one hex encoder of the crates: the module's messages, the
/// command line's output and the tests all write through it.
pub fn hex_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> &'o str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let n = bytes.len().min(out.len() / 2);
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        for (o, nibble) in pair.iter_mut().zip([b >> 4, b & 0xf]) {
            *o = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
        }
    }
    let out: &'o [u8] = out;
    // `n` is at most half of `out`'s length, and every byte written is an ASCII digit,
    // so neither can fail.
    let written = out.get(..n.saturating_mul(2)).unwrap_or_default();
    core::str::from_utf8(written).unwrap_or_default()
}

/// [`hex_into`] into a new string, for the user-space tools and the tests.
#[cfg(any(test, feature = "host"))]
pub fn hex_string(bytes: &[u8]) -> std::string::String {
    let mut out = std::vec![0u8; bytes.len().saturating_mul(2)];
    std::string::String::from(hex_into(bytes, &mut out))
}

/// The fs-verity digest (SHA-256, 4 KiB blocks, no salt) of `data`, in one call.
pub fn fsverity_sha256(data: &[u8]) -> Result<'static, [u8; SHA256_DIGEST_SIZE]> {
    let size =
        u64::try_from(data.len()).map_err(|_| Error::malformed("data size does not fit u64"))?;
    let mut h = VerityHasher::new(size)?;
    h.update(data)?;
    h.finish()
}

/// Number of Merkle tree levels (excluding the root hash) for `data_size` bytes, as
/// `fsverity_init_merkle_tree_params()` counts them.
fn tree_levels(data_size: u64) -> Result<'static, usize> {
    const BLOCK: u64 = FSVERITY_BLOCK_SIZE as u64;
    const ARITY: u64 = HASHES_PER_BLOCK as u64;
    let mut blocks = data_size.div_ceil(BLOCK);
    let mut levels = 0usize;
    while blocks > 1 {
        blocks = blocks.div_ceil(ARITY);
        levels = levels.saturating_add(1);
    }
    if levels > MAX_VERITY_LEVELS {
        return Err(Error::limit(
            "fs-verity tree levels",
            levels,
            MAX_VERITY_LEVELS,
        ));
    }
    Ok(levels)
}

/// The `struct fsverity_descriptor` bytes the kernel hashes into the file digest.
fn descriptor(data_size: u64, root_hash: &[u8; SHA256_DIGEST_SIZE]) -> [u8; DESCRIPTOR_SIZE] {
    let head = [
        DESCRIPTOR_VERSION,
        FS_VERITY_HASH_ALG_SHA256,
        FSVERITY_LOG_BLOCK_SIZE,
        0, // salt_size
        0, // sig_size (__reserved_0x04): zeroed before hashing, see compute_file_digest()
        0,
        0,
        0,
    ];
    let size = data_size.to_le_bytes();
    // Then root_hash[64] (SHA-256 fills the first 32 bytes), salt[32], __reserved[144]:
    // all zero past the root hash.
    let fields = head.iter().chain(size.iter()).chain(root_hash.iter());
    let mut d = [0u8; DESCRIPTOR_SIZE];
    for (dst, src) in d.iter_mut().zip(fields) {
        *dst = *src;
    }
    d
}

/// One pending tree block: the running hash of the digests it holds so far.
#[derive(Clone, Default)]
struct Level {
    hash: Sha256,
    /// Digests hashed into `hash`; always below [`HASHES_PER_BLOCK`] between calls.
    count: usize,
}

/// Streaming fs-verity digest of a file whose size is known up front.
///
/// Feed the file's bytes in any chunking with [`update`](Self::update), then call
/// [`finish`](Self::finish). Holds no buffer: about 1 KiB of hash states.
///
/// # Invariants
///
/// `fed <= data_size`; `block_fill < FSVERITY_BLOCK_SIZE` and every `levels[i].count <
/// HASHES_PER_BLOCK` between calls (full blocks are hashed at once, as the kernel does);
/// `num_levels <= MAX_VERITY_LEVELS`.
#[derive(Clone)]
pub struct VerityHasher {
    data_size: u64,
    fed: u64,
    /// Running hash of the data block being filled, and its length so far.
    block: Sha256,
    block_fill: usize,
    levels: [Level; MAX_VERITY_LEVELS],
    num_levels: usize,
    root: Option<[u8; SHA256_DIGEST_SIZE]>,
}

impl VerityHasher {
    /// A hasher for a file of exactly `data_size` bytes.
    pub fn new(data_size: u64) -> Result<'static, Self> {
        Ok(VerityHasher {
            data_size,
            fed: 0,
            block: Sha256::new(),
            block_fill: 0,
            levels: Default::default(),
            num_levels: tree_levels(data_size)?,
            root: None,
        })
    }

    /// Hash the next bytes of the file. Refuses (consuming nothing) bytes beyond the size
    /// given to [`new`](Self::new).
    pub fn update(&mut self, data: &[u8]) -> Result<'static, ()> {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let end = self.fed.saturating_add(len);
        if end > self.data_size {
            return Err(self.size_error("more data than the declared size", end));
        }
        self.fed = end;
        let mut rest = data;
        while !rest.is_empty() {
            let room = FSVERITY_BLOCK_SIZE.saturating_sub(self.block_fill);
            let n = room.min(rest.len());
            let (now, later) = (rest.get(..n), rest.get(n..));
            let (Some(now), Some(later)) = (now, later) else {
                return Err(Self::bug());
            };
            self.block.update(now);
            self.block_fill = self.block_fill.saturating_add(n);
            if self.block_fill >= FSVERITY_BLOCK_SIZE {
                let d = self.block.finalize_reset().into();
                self.block_fill = 0;
                self.push(0, d)?;
            }
            rest = later;
        }
        Ok(())
    }

    /// The file digest, once exactly the declared number of bytes has been fed.
    pub fn finish(mut self) -> Result<'static, [u8; SHA256_DIGEST_SIZE]> {
        if self.fed != self.data_size {
            return Err(self.size_error("less data than the declared size", self.fed));
        }
        if self.data_size == 0 {
            // enable.c: an empty file has no blocks and an all-zero root hash.
            self.root = Some([0; SHA256_DIGEST_SIZE]);
        }
        // Pad and hash the partial blocks, bottom up, as build_merkle_tree() finishes.
        if self.block_fill > 0 {
            pad(&mut self.block, self.block_fill);
            let d = self.block.finalize_reset().into();
            self.push(0, d)?;
        }
        for i in 0..self.num_levels {
            let Some(level) = self.levels.get_mut(i) else {
                return Err(Self::bug());
            };
            if level.count == 0 {
                continue;
            }
            pad(
                &mut level.hash,
                level.count.saturating_mul(SHA256_DIGEST_SIZE),
            );
            let d = level.hash.finalize_reset().into();
            level.count = 0;
            self.push(i.saturating_add(1), d)?;
        }
        let root = self.root.ok_or_else(Self::bug)?;
        Ok(sha256(&[&descriptor(self.data_size, &root)]))
    }

    /// Append digest `d` to tree level `at` (`num_levels` is the root hash), hashing every
    /// level that fills up into the one above.
    fn push(&mut self, at: usize, d: [u8; SHA256_DIGEST_SIZE]) -> Result<'static, ()> {
        let mut d = d;
        let mut at = at;
        loop {
            if at >= self.num_levels {
                // The tree's shape follows from data_size, which update() enforces, so
                // exactly one digest ever reaches the root.
                if at > self.num_levels || self.root.is_some() {
                    return Err(Self::bug());
                }
                self.root = Some(d);
                return Ok(());
            }
            let Some(level) = self.levels.get_mut(at) else {
                return Err(Self::bug());
            };
            level.hash.update(d);
            level.count = level.count.saturating_add(1);
            if level.count < HASHES_PER_BLOCK {
                return Ok(());
            }
            d = level.hash.finalize_reset().into();
            level.count = 0;
            at = at.saturating_add(1);
        }
    }

    fn size_error(&self, msg: &'static str, offset: u64) -> Error<'static> {
        Error::malformed(msg)
            .ctx(Ctx::Value(What::Offset, offset))
            .ctx(Ctx::Value(What::Size, self.data_size))
            .ctx(Ctx::Step("fs-verity digest"))
    }

    /// A broken invariant of this type; unreachable, but reported rather than panicking.
    fn bug() -> Error<'static> {
        Error::malformed("fs-verity Merkle tree state inconsistent (bug)")
    }
}

/// Zero-pad a block of which `filled` bytes were hashed to the full block size.
fn pad(h: &mut Sha256, filled: usize) {
    h.update(ZERO_BLOCK.get(filled..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;
    use std::string::String;
    use std::vec::Vec;
    use std::{env, format, fs, println};

    const B: usize = FSVERITY_BLOCK_SIZE;

    /// Deterministic pseudo-random bytes (xorshift64*), different per seed.
    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            v.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        v.truncate(len);
        v
    }

    fn hexs(d: &[u8; 32]) -> String {
        let mut out = [0u8; 64];
        String::from(hex(d, &mut out))
    }

    /// `fsverity` from fsverity-utils, or `None` (test skipped) when it is absent outside CI.
    fn fsverity_tool() -> Option<PathBuf> {
        let p = PathBuf::from("/usr/bin/fsverity");
        let found = if p.exists() {
            Some(p)
        } else {
            env::var_os("PATH").and_then(|path| {
                env::split_paths(&path)
                    .map(|d| d.join("fsverity"))
                    .find(|p| p.exists())
            })
        };
        if found.is_none() {
            assert!(
                env::var("CI").as_deref() != Ok("true"),
                "fsverity (fsverity-utils) is required when CI=true"
            );
            println!("SKIP: fsverity (fsverity-utils) not installed; cannot cross-check digests");
        }
        found
    }

    /// Temporary file holding `bytes`, removed on drop.
    struct TempFile(PathBuf);
    impl TempFile {
        fn new(tag: &str, bytes: &[u8]) -> Self {
            let p = env::temp_dir().join(format!("bpfld-digest-{}-{tag}", std::process::id()));
            fs::write(&p, bytes).unwrap();
            TempFile(p)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = fs::remove_file(&self.0);
        }
    }

    fn run(tool: &PathBuf, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new(tool)
            .arg("digest")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fsverity failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().into()
    }

    fn tool_digest(tool: &PathBuf, bytes: &[u8], tag: &str) -> String {
        let f = TempFile::new(tag, bytes);
        run(
            tool,
            &[
                "--compact".as_ref(),
                "--hash-alg=sha256".as_ref(),
                "--block-size=4096".as_ref(),
                f.0.as_os_str(),
            ],
        )
    }

    #[test]
    fn sha256_known_vectors() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(hexs(&sha256(&[b"abc"])), abc);
        assert_eq!(hexs(&sha256(&[b"a", b"", b"bc"])), abc);
        assert_eq!(
            hexs(&sha256(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_is_lowercase() {
        let mut d = [0u8; 32];
        d[0] = 0xab;
        d[31] = 0x0f;
        let mut out = [0u8; 64];
        let s = hex(&d, &mut out);
        assert!(s.starts_with("ab00"));
        assert!(s.ends_with("000f"));
        assert_eq!(s.len(), 64);
    }

    #[test]
    fn hex_into_fills_what_fits() {
        let mut out = [b'x'; 7];
        assert_eq!(hex_into(&[0x01, 0xfe, 0x7a, 0x99], &mut out), "01fe7a");
        assert_eq!(out[6], b'x');
        let mut out = [0u8; 8];
        assert_eq!(hex_into(&[0xc3], &mut out), "c3");
        assert_eq!(hex_into(&[], &mut out), "");
        assert_eq!(hex_into(&[0xff], &mut []), "");
        let all: std::vec::Vec<u8> = (0..=255u8).collect();
        let mut out = [0u8; 512];
        let want: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex_into(&all, &mut out), want);
    }

    #[test]
    fn tree_levels_follow_the_kernel() {
        let blk = B as u64;
        for (size, levels) in [
            (0, 0),
            (1, 0),
            (blk, 0),
            (blk + 1, 1),
            (128 * blk, 1),
            (128 * blk + 1, 2),
            (128 * 128 * blk, 2),
            (128 * 128 * blk + 1, 3),
            (u64::MAX, 8),
        ] {
            assert_eq!(tree_levels(size).unwrap(), levels, "size {size}");
        }
    }

    #[test]
    fn descriptor_layout() {
        let d = descriptor(0x0102_0304_0506_0708, &[0xee; 32]);
        assert_eq!(&d[..8], &[1, 1, 12, 0, 0, 0, 0, 0]);
        assert_eq!(&d[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&d[16..48], &[0xee; 32]);
        assert!(d[48..].iter().all(|&b| b == 0));
    }

    /// Sizes around every boundary: empty, one byte, one block, partial blocks, one full
    /// level, two and three levels.
    const SIZES: [usize; 8] = [
        0,
        1,
        B - 1,
        B,
        B + 1,
        128 * B,
        128 * B + 1,
        128 * 128 * B + 5,
    ];

    #[test]
    fn matches_fsverity_utils() {
        let Some(tool) = fsverity_tool() else { return };
        for (i, &len) in SIZES.iter().enumerate() {
            let bytes = data(len, i as u64);
            let ours = hexs(&fsverity_sha256(&bytes).unwrap());
            assert_eq!(
                ours,
                tool_digest(&tool, &bytes, &format!("{len}")),
                "size {len}"
            );
        }
    }

    #[test]
    fn descriptor_matches_fsverity_utils() {
        let Some(tool) = fsverity_tool() else { return };
        let bytes = data(128 * B + 1, 42);
        let f = TempFile::new("desc-in", &bytes);
        let out = TempFile::new("desc-out", &[]);
        let arg = format!("--out-descriptor={}", out.0.display());
        run(
            &tool,
            &["--compact".as_ref(), arg.as_ref(), f.0.as_os_str()],
        );
        let theirs = fs::read(&out.0).unwrap();

        let mut h = VerityHasher::new(bytes.len() as u64).unwrap();
        h.update(&bytes).unwrap();
        h.finish().unwrap();
        assert_eq!(theirs.len(), DESCRIPTOR_SIZE);
        let root: [u8; 32] = theirs[16..48].try_into().unwrap();
        assert_eq!(&descriptor(bytes.len() as u64, &root)[..], &theirs[..]);
        assert_eq!(sha256(&[&theirs]), fsverity_sha256(&bytes).unwrap());
    }

    /// Vectors recorded from `fsverity digest --compact` (fsverity-utils 1.5), so the
    /// construction stays checked where the tool is not installed.
    #[test]
    fn recorded_vectors() {
        for (len, seed, want) in [
            (
                0,
                0,
                "3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95",
            ),
            (
                1,
                1,
                "8a96e76491324c6ac05b8a6051fcd34b7cfd9caa639d6259d938b21b1a126aa2",
            ),
            (
                B,
                3,
                "9184603bdfeeee3024a88e06a16a35702ebac666103490d10a345c6d62a974d4",
            ),
            (
                128 * B + 1,
                6,
                "846c684df0323662d32ac8ea01f84369515f3d625cca62def0cb06a393f19664",
            ),
        ] {
            assert_eq!(
                hexs(&fsverity_sha256(&data(len, seed)).unwrap()),
                want,
                "size {len}"
            );
        }
    }

    #[test]
    fn streaming_in_odd_chunks_equals_one_shot() {
        let chunks = [1usize, 7, 63, 64, 65, 4095, 4096, 4097, 100_003, 0, 3];
        for (i, &len) in SIZES.iter().take(7).enumerate() {
            let bytes = data(len, i as u64);
            let want = fsverity_sha256(&bytes).unwrap();
            for start in 0..3 {
                let mut h = VerityHasher::new(len as u64).unwrap();
                let mut off = 0;
                let mut c = start;
                while off < len {
                    let n = chunks[c % chunks.len()].min(len - off);
                    h.update(&bytes[off..off + n]).unwrap();
                    off += n;
                    c += 1;
                }
                assert_eq!(h.finish().unwrap(), want, "size {len}, start {start}");
            }
        }
    }

    #[test]
    fn wrong_size_is_an_error() {
        let bytes = data(B + 10, 9);
        // More than declared: refused, nothing consumed, the hasher stays usable.
        let mut h = VerityHasher::new(B as u64 + 10).unwrap();
        h.update(&bytes[..B]).unwrap();
        let e = h.update(&bytes[..11]).unwrap_err();
        assert!(
            format!("{e}").contains("more data than the declared size"),
            "{e}"
        );
        h.update(&bytes[B..]).unwrap();
        assert_eq!(h.finish().unwrap(), fsverity_sha256(&bytes).unwrap());

        let mut h = VerityHasher::new(0).unwrap();
        assert!(h.update(b"x").is_err());
        h.update(b"").unwrap();
        assert!(h.finish().is_ok());

        // Less than declared.
        let mut h = VerityHasher::new(B as u64 + 10).unwrap();
        h.update(&bytes[..B + 9]).unwrap();
        let e = h.finish().unwrap_err();
        assert_eq!(
            format!("{e}"),
            "fs-verity digest: size 4106: offset 4105: less data than the declared size"
        );
        assert!(VerityHasher::new(u64::MAX).unwrap().finish().is_err());
    }
}
