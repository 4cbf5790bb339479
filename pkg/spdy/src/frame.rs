//! SPDY/3 frames and their wire format. Control frames: `1 | version(15) | type(16)`,
//! `flags(8) | length(24)`, body; data frames: `0 | stream id(31)`, `flags(8) | length(24)`, data.
//! Header blocks are compressed by the codec (`FrameEncoder`/`FrameDecoder`), which owns the
//! connection's two zlib contexts, so frames must be encoded and decoded in wire order.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::{
    error::{Error, Result},
    headers::Headers,
    zlib::{HeaderCompressor, HeaderDecompressor},
};

pub type StreamId = u32;

pub const VERSION: u16 = 3;
pub const FLAG_FIN: u8 = 0x01;
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// The 24-bit length field's limit.
pub const MAX_FRAME_LENGTH: usize = (1 << 24) - 1;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes.
pub mod rst {
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const INVALID_STREAM: u32 = 2;
    pub const REFUSED_STREAM: u32 = 3;
    pub const UNSUPPORTED_VERSION: u32 = 4;
    pub const CANCEL: u32 = 5;
    pub const INTERNAL_ERROR: u32 = 6;
    pub const FLOW_CONTROL_ERROR: u32 = 7;
    pub const STREAM_IN_USE: u32 = 8;
    pub const STREAM_ALREADY_CLOSED: u32 = 9;
}

/// GOAWAY status codes.
pub mod goaway {
    pub const OK: u32 = 0;
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const INTERNAL_ERROR: u32 = 2;
}

/// One SETTINGS entry: `flags(8) | id(24)`, value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub flags: u8,
    pub id: u32,
    pub value: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    SynStream {
        stream_id: StreamId,
        associated_to: StreamId,
        /// 3 bits, 0 = highest.
        priority: u8,
        slot: u8,
        fin: bool,
        unidirectional: bool,
        headers: Headers,
    },
    SynReply {
        stream_id: StreamId,
        fin: bool,
        headers: Headers,
    },
    RstStream {
        stream_id: StreamId,
        status: u32,
    },
    Settings {
        clear: bool,
        entries: Vec<Setting>,
    },
    Ping {
        id: u32,
    },
    GoAway {
        last_good_stream_id: StreamId,
        status: u32,
    },
    Headers {
        stream_id: StreamId,
        fin: bool,
        headers: Headers,
    },
    WindowUpdate {
        stream_id: StreamId,
        delta: u32,
    },
    Data {
        stream_id: StreamId,
        fin: bool,
        data: Bytes,
    },
}

/// Writes frames, compressing header blocks with the connection's outgoing zlib context.
#[derive(Default)]
pub struct FrameEncoder {
    compressor: HeaderCompressor,
}

impl FrameEncoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<()> {
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                if data.len() > MAX_FRAME_LENGTH {
                    return Err(Error::Protocol("DATA frame too long".into()));
                }
                out.reserve(8 + data.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(flags_len(*fin as u8, data.len()));
                out.put_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                slot,
                fin,
                unidirectional,
                headers,
            } => {
                let block = self.compressor.compress(&headers.encode_block())?;
                let flags = (*fin as u8)
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control_header(out, TYPE_SYN_STREAM, flags, 10 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(associated_to & 0x7fff_ffff);
                out.put_u8((priority & 0x7) << 5);
                out.put_u8(*slot);
                out.put_slice(&block);
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                let block = self.compressor.compress(&headers.encode_block())?;
                control_header(out, kind, *fin as u8, 4 + block.len());
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_slice(&block);
            }
            Frame::RstStream { stream_id, status } => {
                control_header(out, TYPE_RST_STREAM, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::Settings { clear, entries } => {
                control_header(out, TYPE_SETTINGS, *clear as u8, 4 + 8 * entries.len());
                out.put_u32(entries.len() as u32);
                for s in entries {
                    out.put_u32(((s.flags as u32) << 24) | (s.id & 0x00ff_ffff));
                    out.put_u32(s.value);
                }
            }
            Frame::Ping { id } => {
                control_header(out, TYPE_PING, 0, 4);
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                control_header(out, TYPE_GOAWAY, 0, 8);
                out.put_u32(last_good_stream_id & 0x7fff_ffff);
                out.put_u32(*status);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                control_header(out, TYPE_WINDOW_UPDATE, 0, 8);
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32(delta & 0x7fff_ffff);
            }
        }
        Ok(())
    }
}

fn flags_len(flags: u8, len: usize) -> u32 {
    ((flags as u32) << 24) | (len as u32 & 0x00ff_ffff)
}

fn control_header(out: &mut BytesMut, kind: u16, flags: u8, len: usize) {
    out.reserve(8 + len);
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32(flags_len(flags, len));
}

/// Reads frames, decompressing header blocks with the connection's incoming zlib context.
pub struct FrameDecoder {
    decompressor: HeaderDecompressor,
    max_frame: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self {
            decompressor: HeaderDecompressor::new(),
            max_frame: MAX_FRAME_LENGTH,
        }
    }

    /// Takes one whole frame off the front of `buf`, or `None` when more bytes are needed.
    /// Unknown control frame types are skipped (SPDY/3 says to ignore them).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        loop {
            if buf.len() < 8 {
                return Ok(None);
            }
            let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let flags = buf[4];
            let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
            if len > self.max_frame {
                return Err(Error::Protocol(format!("frame of {len} bytes")));
            }
            if buf.len() < 8 + len {
                buf.reserve(8 + len - buf.len());
                return Ok(None);
            }
            buf.advance(8);
            let mut body = buf.split_to(len).freeze();
            if first & 0x8000_0000 == 0 {
                let stream_id = first & 0x7fff_ffff;
                if stream_id == 0 {
                    return Err(Error::Protocol("DATA frame on stream 0".into()));
                }
                return Ok(Some(Frame::Data {
                    stream_id,
                    fin: flags & FLAG_FIN != 0,
                    data: body,
                }));
            }
            let version = ((first >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(Error::Protocol(format!("SPDY version {version}")));
            }
            let kind = (first & 0xffff) as u16;
            if let Some(frame) = self.control(kind, flags, &mut body)? {
                return Ok(Some(frame));
            }
        }
    }

    fn control(&mut self, kind: u16, flags: u8, body: &mut Bytes) -> Result<Option<Frame>> {
        let fin = flags & FLAG_FIN != 0;
        let frame = match kind {
            TYPE_SYN_STREAM => {
                need(body, 10, "SYN_STREAM")?;
                let stream_id = nonzero(body.get_u32() & 0x7fff_ffff, "SYN_STREAM")?;
                let associated_to = body.get_u32() & 0x7fff_ffff;
                let priority = body.get_u8() >> 5;
                let slot = body.get_u8();
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    slot,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers: self.headers(body)?,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                need(body, 4, "SYN_REPLY/HEADERS")?;
                let stream_id = nonzero(body.get_u32() & 0x7fff_ffff, "SYN_REPLY/HEADERS")?;
                let headers = self.headers(body)?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                need(body, 8, "RST_STREAM")?;
                Frame::RstStream {
                    stream_id: nonzero(body.get_u32() & 0x7fff_ffff, "RST_STREAM")?,
                    status: body.get_u32(),
                }
            }
            TYPE_SETTINGS => {
                need(body, 4, "SETTINGS")?;
                let n = body.get_u32() as usize;
                if body.len() != n.saturating_mul(8) {
                    return Err(Error::Protocol("SETTINGS length mismatch".into()));
                }
                let entries = (0..n)
                    .map(|_| {
                        let flag_id = body.get_u32();
                        Setting {
                            flags: (flag_id >> 24) as u8,
                            id: flag_id & 0x00ff_ffff,
                            value: body.get_u32(),
                        }
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & 0x01 != 0,
                    entries,
                }
            }
            TYPE_PING => {
                need(body, 4, "PING")?;
                Frame::Ping { id: body.get_u32() }
            }
            TYPE_GOAWAY => {
                need(body, 4, "GOAWAY")?;
                let last_good_stream_id = body.get_u32() & 0x7fff_ffff;
                // SPDY/2 GOAWAYs had no status; tolerate a missing one.
                let status = if body.len() >= 4 { body.get_u32() } else { 0 };
                Frame::GoAway {
                    last_good_stream_id,
                    status,
                }
            }
            TYPE_WINDOW_UPDATE => {
                need(body, 8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate {
                    stream_id: body.get_u32() & 0x7fff_ffff,
                    delta: body.get_u32() & 0x7fff_ffff,
                }
            }
            other => {
                tracing::debug!(frame_type = other, "ignoring unknown SPDY control frame");
                return Ok(None);
            }
        };
        Ok(Some(frame))
    }

    fn headers(&mut self, body: &mut Bytes) -> Result<Headers> {
        let block = self.decompressor.decompress(body)?;
        body.advance(body.len());
        Headers::decode_block(&block)
    }
}

fn need(body: &Bytes, n: usize, what: &str) -> Result<()> {
    if body.len() < n {
        return Err(Error::Protocol(format!("{what} frame too short")));
    }
    Ok(())
}

fn nonzero(id: StreamId, what: &str) -> Result<StreamId> {
    if id == 0 {
        return Err(Error::Protocol(format!("{what} on stream 0")));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by Go's spdy package (moby/spdystream/spdy, as kubectl links it): a client framer's
    // SYN_STREAM 1 {streamType: error}, then SYN_STREAM 3 {streamType: stdin} with FIN (same zlib
    // context), a DATA frame, and control frames.
    const GO_SYN_1: &[u8] = b"\x80\x03\x00\x01\x00\x00\x00\x29\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x78\xf9\xe3\xc6\xa7\xc2\x62\x60\x60\x60\x04\xa7\xb3\x92\xa2\xd4\xc4\x5c\x68\x51\xc2\x9a\x0a\x0a\x68\x00\x00\x00\x00\xff\xff";
    const GO_SYN_3: &[u8] = b"\x80\x03\x00\x01\x01\x00\x00\x17\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\xc2\x2e\x55\x5c\x92\x92\x99\x07\x00\x00\x00\xff\xff";
    const GO_DATA: &[u8] = b"\x00\x00\x00\x03\x01\x00\x00\x05hello";
    const GO_CONTROL: &[u8] = b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x05\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x07\x00\x00\x00\x00\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x01\x00\x00\x80\x03\x00\x04\x00\x00\x00\x0c\x00\x00\x00\x01\x00\x00\x00\x07\x00\x10\x00\x00";
    // A Go server framer's first frame: SYN_REPLY 1 with no headers.
    const GO_REPLY: &[u8] = b"\x80\x03\x00\x02\x00\x00\x00\x14\x00\x00\x00\x01\x78\xf9\xe3\xc6\xa7\xc2\x62\x60\x60\x60\x00\x00\x00\x00\xff\xff";

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
    }

    fn decode_all(d: &mut FrameDecoder, bytes: &[u8]) -> Vec<Frame> {
        let mut buf = BytesMut::from(bytes);
        let mut frames = Vec::new();
        while let Some(f) = d.decode(&mut buf).unwrap() {
            frames.push(f);
        }
        assert!(buf.is_empty(), "{} bytes left", buf.len());
        frames
    }

    #[test]
    fn decodes_go_spdystream_frames() {
        let mut d = FrameDecoder::new();
        let mut wire = GO_SYN_1.to_vec();
        wire.extend_from_slice(GO_SYN_3);
        wire.extend_from_slice(GO_DATA);
        wire.extend_from_slice(GO_CONTROL);
        let frames = decode_all(&mut d, &wire);
        assert_eq!(
            frames,
            vec![
                Frame::SynStream {
                    stream_id: 1,
                    associated_to: 0,
                    priority: 0,
                    slot: 0,
                    fin: false,
                    unidirectional: false,
                    headers: headers(&[("streamtype", "error")]),
                },
                Frame::SynStream {
                    stream_id: 3,
                    associated_to: 0,
                    priority: 0,
                    slot: 0,
                    fin: true,
                    unidirectional: false,
                    headers: headers(&[("streamtype", "stdin")]),
                },
                Frame::Data {
                    stream_id: 3,
                    fin: true,
                    data: Bytes::from_static(b"hello"),
                },
                Frame::Ping { id: 1 },
                Frame::RstStream {
                    stream_id: 5,
                    status: rst::CANCEL,
                },
                Frame::GoAway {
                    last_good_stream_id: 7,
                    status: goaway::OK,
                },
                Frame::WindowUpdate {
                    stream_id: 1,
                    delta: 65536,
                },
                Frame::Settings {
                    clear: false,
                    entries: vec![Setting {
                        flags: 0,
                        id: 7,
                        value: 1 << 20,
                    }],
                },
            ]
        );
    }

    #[test]
    fn decodes_byte_by_byte() {
        let mut d = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for b in GO_SYN_1.iter().chain(GO_DATA) {
            buf.put_u8(*b);
            if let Some(f) = d.decode(&mut buf).unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(frames.len(), 2);
    }

    #[test]
    fn encodes_control_and_data_frames_as_go_does() {
        let mut e = FrameEncoder::new();
        let mut out = BytesMut::new();
        for f in [
            Frame::Ping { id: 1 },
            Frame::RstStream {
                stream_id: 5,
                status: rst::CANCEL,
            },
            Frame::GoAway {
                last_good_stream_id: 7,
                status: goaway::OK,
            },
            Frame::WindowUpdate {
                stream_id: 1,
                delta: 65536,
            },
            Frame::Settings {
                clear: false,
                entries: vec![Setting {
                    flags: 0,
                    id: 7,
                    value: 1 << 20,
                }],
            },
        ] {
            e.encode(&f, &mut out).unwrap();
        }
        assert_eq!(&out[..], GO_CONTROL);
        out.clear();
        e.encode(
            &Frame::Data {
                stream_id: 3,
                fin: true,
                data: Bytes::from_static(b"hello"),
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..], GO_DATA);
    }

    #[test]
    fn our_reply_decodes_like_gos_and_header_frames_round_trip() {
        let mut go = FrameDecoder::new();
        let go_reply = decode_all(&mut go, GO_REPLY);
        let mut e = FrameEncoder::new();
        let mut out = BytesMut::new();
        let frames = vec![
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: Headers::new(),
            },
            Frame::SynStream {
                stream_id: 2,
                associated_to: 1,
                priority: 7,
                slot: 0,
                fin: true,
                unidirectional: true,
                headers: headers(&[("port", "80"), ("requestid", "0")]),
            },
            Frame::Headers {
                stream_id: 2,
                fin: true,
                headers: headers(&[("a", "b")]),
            },
        ];
        for f in &frames {
            e.encode(f, &mut out).unwrap();
        }
        let mut d = FrameDecoder::new();
        let ours = decode_all(&mut d, &out);
        assert_eq!(ours, frames);
        assert_eq!(go_reply[0], ours[0]);
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut d = FrameDecoder::new();
        // SPDY/2 control frame.
        let mut buf = BytesMut::from(&b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01"[..]);
        assert!(d.decode(&mut buf).is_err());
        // DATA on stream 0.
        let mut buf = BytesMut::from(&b"\x00\x00\x00\x00\x00\x00\x00\x00"[..]);
        assert!(d.decode(&mut buf).is_err());
        // Unknown control type 0x0a (CREDENTIAL) is skipped.
        let mut buf = BytesMut::from(
            &b"\x80\x03\x00\x0a\x00\x00\x00\x02xy\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x02"
                [..],
        );
        assert_eq!(d.decode(&mut buf).unwrap(), Some(Frame::Ping { id: 2 }));
    }
}
