//! Client <-> server over an in-memory duplex pipe, and a server fed raw frames.

use std::time::Duration;

use bytes::BytesMut;
use rkube_spdy::{rst, Connection, Frame, FrameDecoder, FrameEncoder, Headers};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

/// Fails a test that would otherwise hang.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn streams_carry_headers_data_and_half_closes() {
    within(async {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (client, _client_incoming) = Connection::client(a);
        let (server, mut incoming) = Connection::server(b);

        // Server: echo each stream back with its streamtype prefixed, then FIN.
        let srv = tokio::spawn(async move {
            let mut n = 0;
            while let Some(mut s) = incoming.accept().await {
                n += 1;
                s.reply(headers(&[("accepted", "yes")])).unwrap();
                tokio::spawn(async move {
                    let kind = s.headers().get("streamType").unwrap().to_string();
                    let mut body = Vec::new();
                    s.read_to_end(&mut body).await.unwrap();
                    s.write_all(kind.as_bytes()).await.unwrap();
                    s.write_all(&body).await.unwrap();
                    s.shutdown().await.unwrap();
                });
            }
            server.close().await;
            n
        });

        let mut tasks = Vec::new();
        for i in 0..10 {
            let mut s = client
                .open_stream(headers(&[("streamType", &format!("t{i}"))]), false)
                .unwrap();
            assert_eq!(s.id(), 1 + 2 * i);
            tasks.push(tokio::spawn(async move {
                let reply = s.wait_reply().await.unwrap();
                assert_eq!(reply.get("accepted"), Some("yes"));
                s.write_all(format!("-payload-{i}").as_bytes())
                    .await
                    .unwrap();
                s.shutdown().await.unwrap();
                let mut back = String::new();
                s.read_to_string(&mut back).await.unwrap();
                assert_eq!(back, format!("t{i}-payload-{i}"));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        client.close().await;
        assert_eq!(
            srv.await.unwrap(),
            10,
            "GOAWAY ends the server's accept loop"
        );
    })
    .await
}

#[tokio::test]
async fn bulk_transfer_on_many_streams_with_slow_readers() {
    within(async {
        let (a, b) = tokio::io::duplex(16 * 1024);
        let (client, _ci) = Connection::client(a);
        let (server, mut incoming) = Connection::server(b);
        const SIZE: usize = 3 * 1024 * 1024 + 17;

        tokio::spawn(async move {
            while let Some(s) = incoming.accept().await {
                s.reply(Headers::new()).unwrap();
                tokio::spawn(async move {
                    // Echo while reading: both directions are busy at once.
                    let (mut r, mut w) = s.split();
                    tokio::io::copy(&mut r, &mut w).await.unwrap();
                    w.close_write();
                });
            }
            drop(server);
        });

        let mut tasks = Vec::new();
        for i in 0..8u8 {
            let mut s = client.open_stream(Headers::new(), false).unwrap();
            s.wait_reply().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let data: Vec<u8> = (0..SIZE).map(|j| (j as u8).wrapping_mul(i + 1)).collect();
                let (mut r, mut w) = s.split();
                let expect = data.clone();
                let writer = tokio::spawn(async move {
                    w.write_all(&data).await.unwrap();
                    w.close_write();
                });
                let mut got = Vec::with_capacity(SIZE);
                // Read slowly in small pieces so the server's buffers fill up.
                let mut chunk = [0u8; 4096];
                loop {
                    let n = r.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&chunk[..n]);
                }
                writer.await.unwrap();
                assert_eq!(got.len(), expect.len());
                assert!(got == expect, "stream {i} data differs");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(client.open_streams(), 0);
        client.close().await;
    })
    .await
}

#[tokio::test]
async fn pings_are_echoed_both_ways() {
    within(async {
        let (a, b) = tokio::io::duplex(4096);
        let (client, _ci) = Connection::client(a);
        let (server, _si) = Connection::server(b);
        for _ in 0..3 {
            client.ping().await.unwrap();
            server.ping().await.unwrap();
        }
    })
    .await
}

#[tokio::test]
async fn reset_ends_both_directions() {
    within(async {
        let (a, b) = tokio::io::duplex(4096);
        let (client, _ci) = Connection::client(a);
        let (_server, mut incoming) = Connection::server(b);
        let mut c = client.open_stream(Headers::new(), false).unwrap();
        let mut s = incoming.accept().await.unwrap();
        s.reply(Headers::new()).unwrap();
        c.wait_reply().await.unwrap();
        c.write_all(b"before").await.unwrap();
        let mut buf = [0u8; 6];
        s.read_exact(&mut buf).await.unwrap();
        c.reset(rst::CANCEL);
        let err = s.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
        // Writes fail once the reset has been seen.
        assert!(s.write_all(b"x").await.is_err());

        // A refused stream: wait_reply reports the reset.
        let mut c2 = client.open_stream(Headers::new(), false).unwrap();
        let s2 = incoming.accept().await.unwrap();
        s2.reset(rst::REFUSED_STREAM);
        assert!(matches!(
            c2.wait_reply().await,
            Err(rkube_spdy::Error::Reset { status: 3, .. })
        ));
    })
    .await
}

#[tokio::test]
async fn peer_disconnect_ends_streams() {
    within(async {
        let (a, b) = tokio::io::duplex(4096);
        let (_server, mut incoming) = Connection::server(b);
        let (client, _ci) = Connection::client(a);
        let _c = client.open_stream(Headers::new(), false).unwrap();
        let mut s = incoming.accept().await.unwrap();
        drop(client);
        drop(_c);
        // The client's GOAWAY and shutdown reach the server: reads end, accept ends.
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        assert!(incoming.accept().await.is_none());
    })
    .await
}

/// A server fed frames exactly as Go's spdystream (kubectl) writes them: the compressed
/// SYN_STREAM, stdin data with FIN, a PING; the server's answers decode as SPDY/3.
#[tokio::test]
async fn server_answers_go_framed_client() {
    within(async {
        const GO_SYN_1: &[u8] = b"\x80\x03\x00\x01\x00\x00\x00\x29\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x78\xf9\xe3\xc6\xa7\xc2\x62\x60\x60\x60\x04\xa7\xb3\x92\xa2\xd4\xc4\x5c\x68\x51\xc2\x9a\x0a\x0a\x68\x00\x00\x00\x00\xff\xff";
        let (mut raw, b) = tokio::io::duplex(4096);
        let (server, mut incoming) = Connection::server(b);
        raw.write_all(GO_SYN_1).await.unwrap();
        let mut s = incoming.accept().await.unwrap();
        assert_eq!(s.headers().get("streamType"), Some("error"));
        s.reply(Headers::new()).unwrap();
        s.write_all(b"status").await.unwrap();
        s.shutdown().await.unwrap();

        // Bad: Go's next SYN_STREAM (same zlib context) with an even, server-side id; a PING.
        const GO_SYN_3: &[u8] = b"\x80\x03\x00\x01\x01\x00\x00\x17\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\xc2\x2e\x55\x5c\x92\x92\x99\x07\x00\x00\x00\xff\xff";
        let mut out = BytesMut::from(GO_SYN_3);
        out[11] = 2;
        FrameEncoder::new()
            .encode(&Frame::Ping { id: 7 }, &mut out)
            .unwrap();
        raw.write_all(&out).await.unwrap();

        let mut dec = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        while seen.len() < 5 {
            if let Some(f) = dec.decode(&mut buf).unwrap() {
                seen.push(f);
                continue;
            }
            assert_ne!(raw.read_buf(&mut buf).await.unwrap(), 0);
        }
        assert_eq!(
            seen,
            vec![
                Frame::SynReply {
                    stream_id: 1,
                    fin: false,
                    headers: Headers::new()
                },
                Frame::Data {
                    stream_id: 1,
                    fin: false,
                    data: "status".into()
                },
                Frame::Data {
                    stream_id: 1,
                    fin: true,
                    data: "".into()
                },
                Frame::RstStream {
                    stream_id: 2,
                    status: rst::PROTOCOL_ERROR
                },
                Frame::Ping { id: 7 },
            ]
        );
        server.close().await;
        let mut rest = BytesMut::new();
        while raw.read_buf(&mut rest).await.unwrap() != 0 {}
        let goaway = dec.decode(&mut rest).unwrap().unwrap();
        assert_eq!(
            goaway,
            Frame::GoAway {
                last_good_stream_id: 1,
                status: 0
            }
        );
    })
    .await
}
