//! The client's address (SECURITY.md 33). It is the TCP peer's, unless the
//! peer is one of the configured trusted proxies: then it is the right-most
//! address of the forwarding header that is not itself a trusted proxy. A
//! header sent by anyone else changes nothing.
//!
//! Budgets, throttles, the audit log, the sessions list and notifications all
//! read the one value this module computes (the request's [`ClientIp`]).

use http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Where a request came from, as far as Tessera can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    pub ip: IpAddr,
    /// The TCP peer is a trusted proxy (its request id is kept, for example).
    pub via_trusted_proxy: bool,
}

/// Addresses and CIDR ranges: the proxies whose forwarding headers are
/// believed (`TESSERA_TRUSTED_PROXIES`; empty: no header is believed), and
/// who may read `/metrics` (`TESSERA_METRICS_FROM`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressRanges(Vec<IpNet>);

impl AddressRanges {
    /// A comma- or space-separated list like `127.0.0.1, 10.0.0.0/8, ::1`.
    /// Every entry that is neither an address nor a range is named.
    pub fn parse(text: &str) -> Result<Self, Vec<String>> {
        let mut nets = Vec::new();
        let mut bad = Vec::new();
        for entry in text.split([',', ' ', '\t', '\n']).filter(|e| !e.is_empty()) {
            match IpNet::from_str(entry) {
                Ok(net) => nets.push(net.trunc()),
                Err(_) => match IpAddr::from_str(entry) {
                    Ok(ip) => nets.push(IpNet::from(ip.to_canonical())),
                    Err(_) => bad.push(entry.to_owned()),
                },
            }
        }
        if bad.is_empty() { Ok(Self(nets)) } else { Err(bad) }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// Which header the trusted proxies write the client's address to.
/// Only one is read: a proxy that writes one passes the other through as the
/// client sent it, so reading both would let a client choose its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, Caddy, HAProxy, most load balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(Self::XForwardedFor),
            "forwarded" => Some(Self::Forwarded),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The client's address for a request from `peer` carrying `headers`.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &AddressRanges, header: ForwardedHeader) -> ClientIp {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return ClientIp {
            ip: peer,
            via_trusted_proxy: false,
        };
    }
    // Each proxy appends the address it received the request from, so the
    // list is read from the right: trusted proxies are skipped, and the first
    // address that is not one is the client. Left of it, anything may be forged.
    let hops = forwarded_hops(headers, header);
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if trusted.contains(*ip) => nearest = *ip,
            Some(ip) => {
                return ClientIp {
                    ip: *ip,
                    via_trusted_proxy: true,
                };
            }
            // A proxy wrote something that is not an address ("unknown", an
            // obfuscated name): the last hop known for sure stands for the client.
            None => break,
        }
    }
    ClientIp {
        ip: nearest,
        via_trusted_proxy: true,
    }
}

/// The addresses in the header, left to right over all its lines; `None`
/// for an entry that is not an address.
fn forwarded_hops(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for line in headers.get_all(header.name()) {
        let Ok(line) = line.to_str() else {
            hops.push(None);
            continue;
        };
        for element in line.split(',') {
            let value = match header {
                ForwardedHeader::XForwardedFor => Some(element.trim()),
                ForwardedHeader::Forwarded => forwarded_for(element),
            };
            hops.push(value.and_then(parse_node));
        }
    }
    hops
}

/// The `for=` parameter of one RFC 7239 element.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, possibly in double quotes.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(ip.to_canonical());
    }
    if let Ok(addr) = SocketAddr::from_str(text) {
        return Some(addr.ip().to_canonical());
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    IpAddr::from_str(inner).ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn proxies(s: &str) -> AddressRanges {
        AddressRanges::parse(s).unwrap()
    }

    #[test]
    fn sec_33_a_header_from_an_untrusted_peer_is_ignored() {
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        let got = resolve(
            ip("203.0.113.5"),
            &h,
            &proxies("10.0.0.0/8"),
            ForwardedHeader::XForwardedFor,
        );
        assert_eq!(got.ip, ip("203.0.113.5"));
        assert!(!got.via_trusted_proxy);
        let none = AddressRanges::default();
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &none, ForwardedHeader::XForwardedFor).ip,
            ip("10.0.0.1")
        );
    }

    #[test]
    fn sec_33_the_right_most_untrusted_address_is_the_client() {
        let trusted = proxies("10.0.0.0/8, 192.0.2.10");
        // The client forged the left-most entry; two trusted proxies appended theirs.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7, 192.0.2.10", "10.1.2.3"]);
        let got = resolve(ip("10.9.9.9"), &h, &trusted, ForwardedHeader::XForwardedFor);
        assert_eq!(got.ip, ip("198.51.100.7"));
        assert!(got.via_trusted_proxy);
        // Only trusted hops: the left-most is the client (an internal caller).
        let h = headers("x-forwarded-for", &["10.0.0.7, 10.0.0.8"]);
        assert_eq!(
            resolve(ip("10.0.0.9"), &h, &trusted, ForwardedHeader::XForwardedFor).ip,
            ip("10.0.0.7")
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(
                ip("10.0.0.9"),
                &HeaderMap::new(),
                &trusted,
                ForwardedHeader::XForwardedFor
            )
            .ip,
            ip("10.0.0.9")
        );
    }

    #[test]
    fn sec_33_only_the_configured_header_is_read() {
        assert_eq!(ForwardedHeader::parse(" Forwarded "), Some(ForwardedHeader::Forwarded));
        assert_eq!(
            ForwardedHeader::parse("X-Forwarded-For"),
            Some(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(ForwardedHeader::parse("x-real-ip"), None);
        let trusted = proxies("127.0.0.1");
        let mut h = headers("x-forwarded-for", &["198.51.100.7"]);
        h.append("forwarded", "for=6.6.6.6".parse().unwrap());
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip,
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, &trusted, ForwardedHeader::Forwarded).ip,
            ip("6.6.6.6")
        );
    }

    #[test]
    fn forwarded_elements_ports_quotes_and_ipv6_are_understood() {
        let trusted = proxies("127.0.0.1, ::1");
        let h = headers(
            "forwarded",
            &["for=6.6.6.6;proto=https, For=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1"],
        );
        assert_eq!(
            resolve(ip("::1"), &h, &trusted, ForwardedHeader::Forwarded).ip,
            ip("2001:db8:cafe::17")
        );
        let h = headers("x-forwarded-for", &["198.51.100.7:41237"]);
        assert_eq!(
            resolve(ip("127.0.0.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip,
            ip("198.51.100.7")
        );
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        let h = headers("x-forwarded-for", &["::ffff:198.51.100.7"]);
        assert_eq!(
            resolve(ip("::ffff:127.0.0.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip,
            ip("198.51.100.7")
        );
    }

    #[test]
    fn an_entry_that_is_no_address_stops_at_the_last_known_hop() {
        let trusted = proxies("10.0.0.0/8");
        for value in [
            "6.6.6.6, unknown, 10.0.0.2",
            "6.6.6.6, , 10.0.0.2",
            "6.6.6.6, not an ip, 10.0.0.2",
        ] {
            let h = headers("x-forwarded-for", &[value]);
            assert_eq!(
                resolve(ip("10.0.0.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip,
                ip("10.0.0.2"),
                "{value}"
            );
        }
        let h = headers("forwarded", &["for=6.6.6.6, for=\"_hidden\""]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &h, &trusted, ForwardedHeader::Forwarded).ip,
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_proxy_list_names_every_bad_entry() {
        assert_eq!(
            AddressRanges::parse("10.0.0.0/8, nope, 1.2.3.4/99 ::1"),
            Err(vec!["nope".to_owned(), "1.2.3.4/99".to_owned()])
        );
        let p = proxies("192.0.2.0/24 2001:db8::/32,127.0.0.1");
        assert!(p.contains(ip("192.0.2.200")) && p.contains(ip("2001:db8::5")) && p.contains(ip("127.0.0.1")));
        assert!(!p.contains(ip("192.0.3.1")) && !p.contains(ip("127.0.0.2")));
        assert_eq!(AddressRanges::parse(" ,, "), Ok(AddressRanges::default()));
    }

    proptest! {
        /// Whatever a client puts in the header, from an untrusted peer the
        /// answer is the peer; through one trusted proxy it is whatever that
        /// proxy appended, never an address the client wrote.
        #[test]
        fn sec_33_a_client_cannot_choose_its_address(forged in "[0-9a-f.:, \\[\\]\"=;]{0,80}", a in 1u8..255, b in 1u8..255) {
            let client = IpAddr::from([198, 51, a, b]);
            let trusted = proxies("10.0.0.1");
            let Ok(value) = format!("{forged}, {client}").parse::<http::HeaderValue>() else { return Ok(()) };
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", value);
            prop_assert_eq!(resolve(ip("10.0.0.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip, client);
            prop_assert_eq!(resolve(ip("203.0.113.1"), &h, &trusted, ForwardedHeader::XForwardedFor).ip, ip("203.0.113.1"));
        }
    }
}
