//! LZ4 (lz4_flex) for values above a size threshold: the payload is the uncompressed length
//! (4 bytes, little-endian) then the block. The length is checked against what a block of
//! that size can hold before anything is allocated, so a forged length costs nothing.

/// The most an LZ4 block expands: each byte of input at most 255 bytes of output.
const MAX_RATIO: usize = 255;

/// `bytes` compressed, with their length in front.
pub(super) fn compress(bytes: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(bytes)
}

/// The bytes `compressed` holds; `None` when it is not such a block.
pub(super) fn decompress(compressed: &[u8]) -> Option<Vec<u8>> {
    let (length, block) = compressed.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    if length > block.len().saturating_mul(MAX_RATIO) {
        return None;
    }
    lz4_flex::block::decompress(block, length).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_forged_lengths() {
        let text = "a long text that repeats itself ".repeat(100);
        let compressed = compress(text.as_bytes());
        assert!(compressed.len() < text.len() / 4);
        assert_eq!(decompress(&compressed).unwrap(), text.as_bytes());
        let mut forged = compressed.clone();
        forged[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decompress(&forged), None, "no 4 GiB allocation");
        assert_eq!(decompress(&[1, 2]), None);
        assert_eq!(decompress(&compress(&[])).as_deref(), Some(&[][..]));
    }
}
