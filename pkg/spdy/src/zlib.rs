//! Header-block compression: one zlib stream per direction for the whole connection, primed with
//! the SPDY/3 dictionary, each block ending in a sync flush (so the peer can decode it at once).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::{
    dictionary::DICTIONARY,
    error::{Error, Result},
};

/// Decompressed header blocks larger than this are refused (a zlib bomb guard).
pub const MAX_HEADER_BLOCK: usize = 1 << 20;

pub struct HeaderCompressor {
    z: Compress,
}

impl HeaderCompressor {
    pub fn new() -> Self {
        // Go's spdystream uses BestCompression; the peer decodes any level.
        let mut z = Compress::new(Compression::best(), true);
        z.set_dictionary(DICTIONARY)
            .expect("setting a dictionary on a fresh deflate stream succeeds");
        Self { z }
    }

    /// Compresses one block, sync-flushed.
    pub fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(block.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            let before = self.z.total_in();
            self.z
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| Error::Compression(e.to_string()))?;
            consumed += (self.z.total_in() - before) as usize;
            // Done once all input is in and the flush did not run out of room.
            if consumed == block.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        Self::new()
    }
}

pub struct HeaderDecompressor {
    z: Decompress,
}

impl HeaderDecompressor {
    pub fn new() -> Self {
        Self {
            z: Decompress::new(true),
        }
    }

    /// Decompresses one frame's block (which the sender sync-flushed).
    pub fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 256 {
                if out.len() >= MAX_HEADER_BLOCK {
                    return Err(Error::Compression(format!(
                        "header block larger than {MAX_HEADER_BLOCK} bytes"
                    )));
                }
                out.reserve(out.capacity().max(1024));
            }
            let (in_before, out_before) = (self.z.total_in(), self.z.total_out());
            let res = self
                .z
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.z.total_in() - in_before) as usize;
            let progressed = self.z.total_in() != in_before || self.z.total_out() != out_before;
            match res {
                Ok(Status::StreamEnd) => {
                    return Err(Error::Compression(
                        "the peer ended its header zlib stream".into(),
                    ))
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.z
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| Error::Compression(format!("dictionary: {e}")))?;
                    continue;
                }
                Err(e) => return Err(Error::Compression(e.to_string())),
            }
            if consumed == input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
            if !progressed {
                return Err(Error::Compression("truncated header block".into()));
            }
        }
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    // Two consecutive blocks from CPython's zlib (level 9, the SPDY/3 dictionary, sync flushes):
    // {streamtype: error} then {streamtype: stdout}, the second reusing the first's context.
    const ZLIB_BLOCK_1: &[u8] = b"\x78\xf9\xe3\xc6\xa7\xc2\x02\xa6\x23\x46\x70\x3a\x2b\x29\x4a\x4d\xcc\x85\x16\x25\xac\xa9\xa0\x80\x06\x00\x00\x00\xff\xff";
    const ZLIB_BLOCK_2: &[u8] = b"\xc2\x2a\x05\x4c\xcc\x29\xf9\xa5\x25\x00\x00\x00\x00\xff\xff";

    #[test]
    fn dictionary_is_the_spdy3_one() {
        assert_eq!(DICTIONARY.len(), 1423);
        // zlib's dictionary id (Adler-32), as it appears in the 0x78f9 header above.
        let mut c = Compress::new(Compression::best(), true);
        assert_eq!(c.set_dictionary(DICTIONARY).unwrap(), 0xe3c6a7c2);
    }

    #[test]
    fn decodes_zlib_produced_blocks_in_one_context() {
        let mut d = HeaderDecompressor::new();
        let h1 = Headers::decode_block(&d.decompress(ZLIB_BLOCK_1).unwrap()).unwrap();
        let h2 = Headers::decode_block(&d.decompress(ZLIB_BLOCK_2).unwrap()).unwrap();
        assert_eq!(h1.get("streamtype"), Some("error"));
        assert_eq!(h2.get("streamtype"), Some("stdout"));
    }

    #[test]
    fn own_output_round_trips_and_starts_with_a_dictionary_header() {
        let mut c = HeaderCompressor::new();
        let mut d = HeaderDecompressor::new();
        for i in 0..50 {
            let mut h = Headers::new();
            h.set("streamtype", "data")
                .set("port", i.to_string())
                .set("requestid", (i * 7).to_string());
            let z = c.compress(&h.encode_block()).unwrap();
            if i == 0 {
                assert_eq!(&z[..6], b"\x78\xf9\xe3\xc6\xa7\xc2");
            }
            assert!(z.ends_with(b"\x00\x00\xff\xff"), "sync flushed");
            assert_eq!(
                Headers::decode_block(&d.decompress(&z).unwrap()).unwrap(),
                h
            );
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let mut d = HeaderDecompressor::new();
        assert!(d.decompress(b"\x78\xf9\x00\x00\x00\x00garbage").is_err());
    }
}
