//! hickory-server's request handler: the cluster zone and reverse lookups from the cache,
//! everything else relayed upstream.

use std::sync::Arc;

use hickory_server::{
    net::{runtime::Time, xfer::Protocol},
    proto::{
        op::{Edns, Header, HeaderCounts, Message, MessageType, Metadata, OpCode, ResponseCode},
        rr::Record,
    },
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
};
use tracing::{debug, warn};

use crate::{
    forward::Forwarder,
    records::{parse_reverse, Answer, ClusterView, Zone},
};

pub struct Handler {
    pub zone: Zone,
    pub view: Arc<dyn ClusterView + Send + Sync>,
    pub forwarder: Forwarder,
}

impl Handler {
    /// The cluster's answer, or None when the name is not the cluster's (forward it).
    fn local(&self, qname: &str, qtype: hickory_server::proto::rr::RecordType) -> Option<Answer> {
        let lower = qname.trim_end_matches('.').to_ascii_lowercase();
        if self.zone.contains(&lower) {
            return Some(self.zone.resolve(self.view.as_ref(), &lower, qtype));
        }
        let ip = parse_reverse(&lower)?;
        if qtype != hickory_server::proto::rr::RecordType::PTR {
            return None;
        }
        let owner = hickory_server::proto::rr::Name::from_ascii(format!("{lower}.")).ok()?;
        self.zone.reverse(self.view.as_ref(), ip, &owner)
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let mut meta = Metadata::response_from_request(&request.metadata);
        meta.recursion_available = true;
        let edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e
        });
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let info = match request.request_info() {
            Ok(info)
                if request.metadata.message_type == MessageType::Query
                    && request.metadata.op_code == OpCode::Query =>
            {
                info
            }
            _ => {
                meta.response_code = ResponseCode::NotImp;
                return send(&mut response, builder.build_no_records(meta), meta).await;
            }
        };
        let qname = info.query.name().to_string();
        let qtype = info.query.query_type();
        if let Some(answer) = self.local(&qname, qtype) {
            debug!(name = %qname, r#type = %qtype, code = %answer.code, n = answer.answers.len(), "cluster answer");
            meta.authoritative = true;
            meta.response_code = answer.code;
            let none: [&Record; 0] = [];
            let msg = builder.build(meta, answer.answers.iter(), none, answer.soa.iter(), none);
            return send(&mut response, msg, meta).await;
        }
        let tcp = request.protocol() == Protocol::Tcp;
        let upstream = match self.forwarder.forward(request.as_slice(), tcp).await {
            Some(bytes) => Message::from_vec(&bytes).ok(),
            None => None,
        };
        let Some(up) = upstream else {
            warn!(name = %qname, "no upstream resolver answered");
            meta.response_code = ResponseCode::ServFail;
            return send(&mut response, builder.build_no_records(meta), meta).await;
        };
        // The upstream's flags and code, our ID and question.
        let mut m = up.metadata;
        m.id = request.metadata.id;
        let none: [&Record; 0] = [];
        let msg = builder.build(
            m,
            up.answers.iter(),
            up.authorities.iter(),
            none,
            up.additionals.iter(),
        );
        send(&mut response, msg, m).await
    }
}

async fn send<'a, R: ResponseHandler>(
    response: &mut R,
    msg: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    meta: Metadata,
) -> ResponseInfo {
    match response.send_response(msg).await {
        Ok(info) => info,
        Err(e) => {
            warn!(error = %e, "sending a DNS response failed");
            let mut meta = meta;
            meta.response_code = ResponseCode::ServFail;
            Header {
                metadata: meta,
                counts: HeaderCounts::default(),
            }
            .into()
        }
    }
}
