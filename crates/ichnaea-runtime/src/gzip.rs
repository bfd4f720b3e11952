//! gzip for queue items, with the compressor and decompressor state reused per thread.
//!
//! The reference queues every report as its own small gzip member; this project writes
//! LZ4 items (`crate::queue::encode_incoming`) but still reads gzip ones, and writes them
//! in the reference's format where asked ([`compress_fast`]). A fresh encoder allocates and zeroes a few hundred kilobytes of deflate state
//! for a report of a few hundred bytes: in the submit profile, `memset`, `malloc` and the
//! encoder set-up took about half of the api's CPU. So each thread keeps one raw deflate
//! (and one inflate) state, resets it between items, and writes the gzip header and
//! trailer (CRC-32 and length) itself. The output is an ordinary gzip member that any
//! decoder reads; [`decompress`] reads any gzip input, taking the fast path for the
//! plain headers this module (and Python's `gzip.compress`) writes.

use std::cell::RefCell;
use std::io::{self, Read};

use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};

/// The header of a gzip member without optional fields: magic, deflate, no flags, no
/// time, no extra flags, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// CRC-32 and length.
const TRAILER_LEN: usize = 8;

thread_local! {
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Compresses `data` as one gzip member at the fastest level.
pub fn compress_fast(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER.len() + data.len() / 2 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATE.with(|state| {
        let mut deflate = state.borrow_mut();
        deflate.reset();
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
            let input = data.get(consumed..).unwrap_or_default();
            out.reserve(input.len() / 2 + 64);
            match deflate.compress_vec(input, &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return Ok(()),
                Ok(Status::Ok | Status::BufError) => {}
                Err(e) => return Err(io::Error::other(e)),
            }
        }
    })?;
    let mut crc = Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32, as the format says.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

/// Decompresses gzip input (one or more members) and checks each member's CRC-32 and
/// length.
pub fn decompress(item: &[u8]) -> io::Result<Vec<u8>> {
    if item.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "empty gzip data",
        ));
    }
    let plain =
        item.len() >= HEADER.len() + TRAILER_LEN && item[..4] == HEADER[..4] && item[3] == 0;
    if !plain {
        // Optional header fields (file name, comment, …): the general decoder.
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(item).read_to_end(&mut out)?;
        return Ok(out);
    }
    let body = &item[HEADER.len()..];
    let mut out = Vec::with_capacity(item.len() * 3);
    let used = INFLATE.with(|state| {
        let mut inflate = state.borrow_mut();
        inflate.reset(false);
        loop {
            let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
            let input = body.get(consumed..).unwrap_or_default();
            out.reserve(out.len().max(256));
            let produced = out.len();
            let result = inflate.decompress_vec(input, &mut out, FlushDecompress::None);
            let stalled = inflate.total_in() as usize == consumed && out.len() == produced;
            match result {
                Ok(Status::StreamEnd) => {
                    return Ok(usize::try_from(inflate.total_in()).unwrap_or(usize::MAX));
                }
                Ok(Status::Ok | Status::BufError) if !stalled => {}
                Ok(Status::Ok | Status::BufError) if input.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "truncated gzip data",
                    ));
                }
                Ok(Status::Ok | Status::BufError) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "gzip data makes no progress",
                    ));
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
        }
    })?;
    let rest = body.get(used..).unwrap_or_default();
    let (trailer, more) = rest
        .split_at_checked(TRAILER_LEN)
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "gzip trailer missing"))?;
    let mut crc = Crc::new();
    crc.update(&out);
    if trailer[..4] != crc.sum().to_le_bytes() || trailer[4..] != (out.len() as u32).to_le_bytes() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "gzip checksum or length mismatch",
        ));
    }
    if !more.is_empty() {
        // Further members follow: decode them too, as gzip readers do.
        out.extend(decompress(more)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn reference_gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_and_interoperates_with_a_standard_codec() {
        let samples: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"{}".to_vec(),
            br#"{"report":{"wifiAccessPoints":[{"macAddress":"01:23:45:67:89:ab"}]}}"#.repeat(3),
            (0..200_000u32)
                .flat_map(|i| (i % 251).to_le_bytes())
                .collect(),
        ];
        for data in &samples {
            let ours = compress_fast(data).unwrap();
            // A standard decoder reads ours, and we read a standard encoder's output.
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&ours[..])
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(&plain, data);
            assert_eq!(&decompress(&ours).unwrap(), data);
            assert_eq!(&decompress(&reference_gzip(data)).unwrap(), data);
        }
    }

    #[test]
    fn optional_header_fields_and_several_members_are_read() {
        let mut named = flate2::GzBuilder::new()
            .filename("report.json")
            .write(Vec::new(), Compression::fast());
        named.write_all(b"named").unwrap();
        let named = named.finish().unwrap();
        assert_eq!(decompress(&named).unwrap(), b"named");

        let mut two = compress_fast(b"one,").unwrap();
        two.extend(compress_fast(b"two").unwrap());
        assert_eq!(decompress(&two).unwrap(), b"one,two");
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let good = compress_fast(b"some report text, some report text").unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 6;
        flipped[last] ^= 0xff;
        assert!(decompress(&flipped).is_err(), "checksum");
        for cut in [0, 5, 10, 12, good.len() - 4, good.len() - 1] {
            assert!(decompress(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decompress(b"not gzip at all").is_err());
        let mut garbage = HEADER.to_vec();
        garbage.extend_from_slice(&[0xff; 20]);
        assert!(decompress(&garbage).is_err());
    }
}
