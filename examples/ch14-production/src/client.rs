//! The client's address, for the throttle: the peer of the connection, or,
//! behind reverse proxies we trust, the address they recorded.
//!
//! Behind a proxy every connection comes from the proxy. Counted by peer,
//! the whole internet would share one per-address limit, and one client
//! could lock everyone out of logging in. Each proxy appends the address it
//! received the request from to `X-Forwarded-For`, so the entries it and the
//! proxies after it added are true; everything to their left was written by
//! the client and proves nothing. Reading from the right, past the proxies we
//! trust (`TRUSTED_PROXIES`), the first other address is the client. Without
//! trusted proxies the header is ignored: anyone can send it.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::ApiError;

// ANCHOR: extractor
/// The client's address, as an extractor: `ClientAddress(address)` in a
/// handler's arguments.
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        // Recorded by `serve` (or `MockConnectInfo` in tests) for every
        // request; axum's own extractor reads either.
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                tracing::error!(%rejection, "no peer address: serve the app with connect info");
                ApiError::Internal
            })?;
        let address = client_address(peer.ip(), &parts.headers, &state.trusted_proxies);
        Ok(ClientAddress(address))
    }
}
// ANCHOR_END: extractor

/// `peer`, or, when `peer` is a trusted proxy, the rightmost address in
/// `X-Forwarded-For` that is not one (all the header's fields, in order, as
/// one list). An entry that is not an address stops the walk at the last
/// address a trusted proxy vouched for.
///
/// By hand, on bytes: a non-UTF-8 or malformed entry written by the client
/// must not hide the entries our proxies appended after it, and nothing here
/// may panic on what a client sends.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let trusts = |address: IpAddr| trusted.iter().any(|t| t.to_canonical() == address);
    let peer = peer.to_canonical();
    if !trusts(peer) {
        return peer;
    }
    // From the right, without collecting: the walk usually ends after one or
    // two entries, however many the client wrote.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|field| field.as_bytes().rsplit(|byte| *byte == b','));
    let mut client = peer;
    for hop in hops {
        let Some(address) = std::str::from_utf8(hop).ok().and_then(parse_hop) else {
            break;
        };
        client = address;
        if !trusts(address) {
            break;
        }
    }
    client
}

/// An address as proxies write it: `192.0.2.1`, `2001:db8::1`, or with a port
/// (`192.0.2.1:5678`, `[2001:db8::1]:5678`, as some load balancers do); an
/// IPv4-mapped IPv6 address is its IPv4 address.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let address = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(fields: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for field in fields {
            headers.append(
                "x-forwarded-for",
                HeaderValue::from_bytes(field).expect("a header value"),
            );
        }
        headers
    }

    #[test]
    fn the_client_is_the_rightmost_address_our_proxies_did_not_add() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        let proxy = ip("127.0.0.1");
        let trusted = [proxy, ip("10.0.0.2")];
        // Not behind a trusted proxy: the header proves nothing.
        let spoofed = forwarded(&[b"198.51.100.7"]);
        assert_eq!(
            client_address(ip("203.0.113.9"), &spoofed, &trusted),
            ip("203.0.113.9")
        );
        // Behind ours: what the client wrote on the left is skipped.
        let cases: [(&[&[u8]], &str); 9] = [
            (&[b"198.51.100.7"], "198.51.100.7"),
            (&[b"198.51.100.7:5678"], "198.51.100.7"),
            (&[b"[2001:db8::7]:5678, 127.0.0.1"], "2001:db8::7"),
            (&[b"198.51.100.7, ::ffff:10.0.0.2"], "198.51.100.7"),
            (&[b"6.6.6.6, 198.51.100.7"], "198.51.100.7"),
            (&[b"6.6.6.6", b"198.51.100.7, 10.0.0.2"], "198.51.100.7"),
            (&[b"\xff\xfe, 198.51.100.7"], "198.51.100.7"),
            (&[b"198.51.100.7, not-an-address"], "127.0.0.1"),
            (&[b"10.0.0.2"], "10.0.0.2"),
        ];
        for (fields, client) in cases {
            assert_eq!(
                client_address(proxy, &forwarded(fields), &trusted),
                ip(client),
                "{fields:?}"
            );
        }
        // No header: the proxy itself.
        assert_eq!(client_address(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
