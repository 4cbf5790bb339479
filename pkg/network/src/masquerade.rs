//! Masquerade for pod traffic leaving the cluster CIDR, in an nftables table of rkube's own
//! (`ip rkube-<bridge>`): replaced atomically as a whole, never touching other tables.

use std::borrow::Cow;

use nftables::{
    batch::Batch,
    expr::{Expression, NamedExpression, Payload, PayloadField, Prefix},
    helper,
    schema::{Chain, NfListObject, Rule, Table},
    stmt::{Match, Operator, Statement},
    types::{NfChainPolicy, NfChainType, NfFamily, NfHook},
};
use tracing::info;

use crate::{cidr::Ipv4Cidr, Error, Result};

const CHAIN: &str = "postrouting";
/// srcnat priority, as `nft ... priority srcnat`.
const SRCNAT: i32 = 100;

/// The table name for a bridge.
pub(crate) fn table_name(bridge: &str) -> String {
    format!("rkube-{bridge}")
}

fn table(name: &str) -> Table<'_> {
    Table {
        family: NfFamily::IP,
        name: Cow::Borrowed(name),
        handle: None,
    }
}

fn ip_match<'a>(field: &'a str, cidr: &Ipv4Cidr, op: Operator) -> Statement<'a> {
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::Payload(Payload::PayloadField(
            PayloadField {
                protocol: Cow::Borrowed("ip"),
                field: Cow::Borrowed(field),
            },
        ))),
        right: Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(Expression::String(Cow::Owned(cidr.network().to_string()))),
            len: u32::from(cidr.prefix_len()),
        })),
        op,
    })
}

/// (Re)writes the table: `ip saddr <pod_cidr> ip daddr != <cluster_cidr> masquerade` in a nat
/// postrouting chain. Add-then-delete-then-add makes it one atomic replace, present or not.
pub(crate) async fn ensure(name: &str, pod_cidr: &Ipv4Cidr, cluster_cidr: &Ipv4Cidr) -> Result<()> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(table(name)));
    batch.delete(NfListObject::Table(table(name)));
    batch.add(NfListObject::Table(table(name)));
    batch.add(NfListObject::Chain(Chain {
        family: NfFamily::IP,
        table: Cow::Borrowed(name),
        name: Cow::Borrowed(CHAIN),
        _type: Some(NfChainType::NAT),
        hook: Some(NfHook::Postrouting),
        prio: Some(SRCNAT),
        policy: Some(NfChainPolicy::Accept),
        ..Chain::default()
    }));
    batch.add(NfListObject::Rule(Rule {
        family: NfFamily::IP,
        table: Cow::Borrowed(name),
        chain: Cow::Borrowed(CHAIN),
        expr: Cow::Owned(vec![
            ip_match("saddr", pod_cidr, Operator::EQ),
            ip_match("daddr", cluster_cidr, Operator::NEQ),
            Statement::Masquerade(None),
        ]),
        comment: Some(Cow::Borrowed("rkube: pods leaving the cluster network")),
        ..Rule::default()
    }));
    helper::apply_ruleset_async(&batch.to_nftables())
        .await
        .map_err(|e| nft_err("write", name, e))?;
    info!(table = name, %pod_cidr, %cluster_cidr, "masquerade rules in place");
    Ok(())
}

/// Removes the table; absent is fine (the add makes the delete always valid).
pub(crate) async fn delete(name: &str) -> Result<()> {
    let mut batch = Batch::new();
    batch.add(NfListObject::Table(table(name)));
    batch.delete(NfListObject::Table(table(name)));
    helper::apply_ruleset_async(&batch.to_nftables())
        .await
        .map_err(|e| nft_err("delete", name, e))
}

fn nft_err(what: &str, table: &str, e: helper::NftablesError) -> Error {
    let detail = match &e {
        helper::NftablesError::NftFailed { stderr, .. } => format!("{e}: {}", stderr.trim()),
        _ => e.to_string(),
    };
    Error::Other(format!("nftables: {what} table ip {table}: {detail}"))
}
