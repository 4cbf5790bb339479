//! One rtnetlink connection per operation (a socket, cheap), so a `PodNetwork` does not depend
//! on the runtime that created it, and helpers for the errno answers we tolerate.

use futures_util::TryStreamExt;
use rtnetlink::{
    packet_route::link::{LinkAttribute, LinkMessage},
    Handle, LinkUnspec,
};
use tokio::task::JoinHandle;

use crate::{Error, Result};

const EEXIST: i32 = 17;
const ENODEV: i32 = 19;

/// A netlink connection in the calling thread's network namespace.
pub(crate) struct Netlink {
    pub(crate) handle: Handle,
    task: JoinHandle<()>,
}

impl Netlink {
    pub(crate) fn connect() -> Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection()
            .map_err(|e| Error::Other(format!("netlink socket: {e}")))?;
        Ok(Self {
            handle,
            task: tokio::spawn(conn),
        })
    }

    /// The index of the link called `name`, if it exists.
    pub(crate) async fn link_index(&self, name: &str) -> Result<Option<u32>> {
        let found = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute()
            .try_next()
            .await;
        match found {
            Ok(Some(msg)) => Ok(Some(msg.header.index)),
            Ok(None) => Ok(None),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(nl_err(&format!("look up link {name}"), e)),
        }
    }

    /// The link with `index`, if it exists; `what` names the operation in errors.
    pub(crate) async fn link_by_index(
        &self,
        index: u32,
        what: &str,
    ) -> Result<Option<LinkMessage>> {
        self.handle
            .link()
            .get()
            .match_index(index)
            .execute()
            .try_next()
            .await
            .map_err(|e| nl_err(what, e))
    }

    /// Indexes of the links whose controller (bridge) is `index`.
    pub(crate) async fn ports_of(&self, index: u32) -> Result<Vec<u32>> {
        let mut links = self.handle.link().get().execute();
        let mut out = Vec::new();
        while let Some(msg) = links
            .try_next()
            .await
            .map_err(|e| nl_err("list links", e))?
        {
            if msg
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::Controller(c) if *c == index))
            {
                out.push(msg.header.index);
            }
        }
        Ok(out)
    }

    /// Deletes the link called `name`; absent is fine. Returns whether it existed.
    pub(crate) async fn delete_link(&self, name: &str) -> Result<bool> {
        let Some(index) = self.link_index(name).await? else {
            return Ok(false);
        };
        self.delete_index(index).await
    }

    pub(crate) async fn delete_index(&self, index: u32) -> Result<bool> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(false),
            Err(e) => Err(nl_err(&format!("delete link {index}"), e)),
        }
    }

    /// Sets the link up (and its MTU if given).
    pub(crate) async fn set_up(&self, index: u32, mtu: Option<u32>) -> Result<()> {
        let mut msg = LinkUnspec::new_with_index(index).up();
        if let Some(mtu) = mtu {
            msg = msg.mtu(mtu);
        }
        self.handle
            .link()
            .set(msg.build())
            .execute()
            .await
            .map_err(|e| nl_err(&format!("set link {index} up"), e))
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The positive errno of a netlink error answer.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

pub(crate) fn exists(e: &rtnetlink::Error) -> bool {
    errno(e) == Some(EEXIST)
}

pub(crate) fn nl_err(what: &str, e: rtnetlink::Error) -> Error {
    Error::Other(format!("netlink: {what}: {e}"))
}
