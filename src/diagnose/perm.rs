//! perm.*: 403 Forbidden on CreatePermission / ChannelBind.

use crate::wire::Method;

use super::{by_error_code, method_title, Sink};

const REMEDY: &str = "The server refuses this peer address by policy: check the peer address the client asks for (a private or loopback peer is often denied) and the server's allowed/denied peer address ranges.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    by_error_code(
        sink,
        403,
        "perm.forbidden",
        |m| m == Method::CREATE_PERMISSION || m == Method::CHANNEL_BIND,
        |rq, _| {
            rq.peers
                .iter()
                .map(|p| p.ip().to_string())
                .collect::<Vec<_>>()
                .join(",")
        },
        |rq, rs| {
            let peers: Vec<String> = rq.peers.iter().map(|p| p.to_string()).collect();
            format!(
                "{} for peer {} from {} refused by {} with 403 Forbidden",
                method_title(rq.method),
                if peers.is_empty() {
                    "?".into()
                } else {
                    peers.join(", ")
                },
                rq.src,
                rs.src
            )
        },
        REMEDY,
    );
}
