//! Server discovery (server-server API, "Resolving server names"): an IP literal or an explicit
//! port is used directly; otherwise `/.well-known/matrix/server`, then SRV `_matrix-fed._tcp`
//! and the deprecated `_matrix._tcp`, then port 8448. Results are cached.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use hickory_resolver::{TokioResolver, proto::rr::RData};
use ruma::ServerName;
use tokio::sync::OnceCell;

use super::{FederationError, IpFilter};

/// How long a discovery result is kept (Synapse keeps a well-known answer a day by default).
const FOUND_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long "no well-known" or a failed lookup is kept (Synapse: an hour).
const NOT_FOUND_TTL: Duration = Duration::from_secs(3600);
/// Largest `/.well-known/matrix/server` body read.
const MAX_WELL_KNOWN: usize = 50 * 1024;
/// The default federation port.
const DEFAULT_PORT: u16 = 8448;

/// Where to send requests for one server name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
    /// The host TLS verifies and SNI names (a name, an IPv4 address or a bracketed IPv6 one).
    pub(super) host: String,
    pub(super) port: u16,
    /// The `Host` header.
    pub(super) host_header: String,
    /// Addresses found through SRV, to connect to instead of `host`'s own.
    pub(super) pinned: Option<Vec<SocketAddr>>,
}

impl Target {
    pub(super) fn base_url(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }
}

/// The cache of discovery results, and the DNS resolver for SRV records.
pub(super) struct Discovery {
    cache: Mutex<BTreeMap<String, (Instant, Target)>>,
    dns: OnceCell<Option<TokioResolver>>,
}

/// Fetches a server's `/.well-known/matrix/server` body (with redirects, guarded).
pub(super) trait WellKnownFetcher {
    async fn well_known(&self, host: &str) -> Result<Vec<u8>, FederationError>;
}

impl Discovery {
    pub(super) fn new() -> Self {
        Self {
            cache: Mutex::new(BTreeMap::new()),
            dns: OnceCell::new(),
        }
    }

    /// Where `server_name`'s federation API is.
    pub(super) async fn resolve(
        &self,
        server_name: &str,
        fetcher: &impl WellKnownFetcher,
        filter: &IpFilter,
    ) -> Result<Target, FederationError> {
        if let Some((until, t)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(server_name)
            && *until > Instant::now()
        {
            return Ok(t.clone());
        }
        let name =
            <&ServerName>::try_from(server_name).map_err(|e| FederationError::Unreachable {
                destination: server_name.to_owned(),
                reason: format!("invalid server name: {e}"),
            })?;
        let (target, ttl) = match direct(name) {
            Some(t) => (t, FOUND_TTL),
            None => self.discover(name, fetcher, filter).await?,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, (until, _)| *until > Instant::now());
        cache.insert(
            server_name.to_owned(),
            (Instant::now() + ttl, target.clone()),
        );
        Ok(target)
    }

    /// Steps 3 to 6: well-known delegation, SRV, then port 8448.
    async fn discover(
        &self,
        name: &ServerName,
        fetcher: &impl WellKnownFetcher,
        filter: &IpFilter,
    ) -> Result<(Target, Duration), FederationError> {
        let host = name.host();
        let delegated = match fetcher.well_known(host).await {
            Ok(body) => parse_well_known(&body),
            Err(e) => {
                tracing::debug!(server = %name, error = %e, "no usable .well-known/matrix/server");
                None
            }
        };
        let Some(delegated) = delegated else {
            return Ok((self.srv_or_default(host, filter).await, NOT_FOUND_TTL));
        };
        let delegated_name = <&ServerName>::try_from(delegated.as_str()).map_err(|e| {
            FederationError::Malformed(format!("invalid m.server {delegated:?}: {e}"))
        })?;
        let target = match direct(delegated_name) {
            Some(t) => t,
            None => self.srv_or_default(delegated_name.host(), filter).await,
        };
        Ok((target, FOUND_TTL))
    }

    /// SRV `_matrix-fed._tcp.<host>`, then `_matrix._tcp.<host>`, then `<host>:8448`.
    async fn srv_or_default(&self, host: &str, filter: &IpFilter) -> Target {
        for service in ["_matrix-fed._tcp", "_matrix._tcp"] {
            if let Some(pinned) = self.srv(&format!("{service}.{host}."), filter).await {
                return Target {
                    host: host.to_owned(),
                    port: pinned[0].port(),
                    host_header: host.to_owned(),
                    pinned: Some(pinned),
                };
            }
        }
        Target {
            host: host.to_owned(),
            port: DEFAULT_PORT,
            host_header: host.to_owned(),
            pinned: None,
        }
    }

    /// The addresses of an SRV record's targets, in priority order, refused ones left out.
    async fn srv(&self, query: &str, filter: &IpFilter) -> Option<Vec<SocketAddr>> {
        let dns = self
            .dns
            .get_or_init(|| async {
                TokioResolver::builder_tokio()
                    .and_then(|b| b.build())
                    .inspect_err(|e| tracing::warn!(error = %e, "no DNS resolver for SRV lookups"))
                    .ok()
            })
            .await
            .as_ref()?;
        let lookup = dns.srv_lookup(query).await.ok()?;
        let mut records: Vec<_> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(srv) => Some(srv.clone()),
                _ => None,
            })
            .collect();
        records.sort_by_key(|s| (s.priority, std::cmp::Reverse(s.weight)));
        let mut addrs = Vec::new();
        for srv in records {
            let target = srv.target.to_utf8();
            let target = target.trim_end_matches('.');
            if target.is_empty() {
                continue;
            }
            if let Ok(found) = tokio::net::lookup_host((target, srv.port)).await {
                addrs.extend(found.filter(|a| filter.permits(a.ip())));
            }
        }
        (!addrs.is_empty()).then_some(addrs)
    }
}

/// Steps 1 and 2: an IP literal, or a name with an explicit port.
fn direct(name: &ServerName) -> Option<Target> {
    if name.is_ip_literal() || name.port().is_some() {
        let port = name.port().unwrap_or(DEFAULT_PORT);
        return Some(Target {
            host: name.host().to_owned(),
            port,
            host_header: name.as_str().to_owned(),
            pinned: None,
        });
    }
    None
}

/// `m.server` of a well-known body, if it is a valid server name.
fn parse_well_known(body: &[u8]) -> Option<String> {
    if body.len() > MAX_WELL_KNOWN {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let s = v.get("m.server")?.as_str()?;
    <&ServerName>::try_from(s).ok()?;
    Some(s.to_owned())
}

/// The IP address a URL with this host connects to without a name lookup, if there is one.
/// The host is read as the URL parser reads it, so the other spellings of IPv4 addresses it
/// accepts (`2130706433`, `0x7f000001`, `127.1`, `0177.0.0.1`) are addresses here too, and the
/// IP filter sees them; IPv6 comes in brackets.
pub(super) fn ip_of_host(host: &str) -> Option<IpAddr> {
    let url = reqwest::Url::parse(&format!("https://{host}/")).ok()?;
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoWellKnown;
    impl WellKnownFetcher for NoWellKnown {
        async fn well_known(&self, _: &str) -> Result<Vec<u8>, FederationError> {
            Err(FederationError::Malformed("none".into()))
        }
    }

    struct Delegates(&'static str);
    impl WellKnownFetcher for Delegates {
        async fn well_known(&self, _: &str) -> Result<Vec<u8>, FederationError> {
            Ok(self.0.as_bytes().to_vec())
        }
    }

    /// Discovery without DNS: SRV lookups find nothing (tests send no queries).
    fn offline() -> Discovery {
        Discovery {
            cache: Mutex::new(BTreeMap::new()),
            dns: OnceCell::new_with(Some(None)),
        }
    }

    #[tokio::test]
    async fn well_known_delegates_then_8448() {
        let f = IpFilter::new(&[], &[]).unwrap();
        // Delegation to a host and port: used as given, Host header included.
        let t = offline()
            .resolve(
                "example.org",
                &Delegates(r#"{"m.server": "matrix.example.org:443"}"#),
                &f,
            )
            .await
            .unwrap();
        assert_eq!(t.base_url(), "https://matrix.example.org:443");
        assert_eq!(t.host_header, "matrix.example.org:443");
        // Delegation to a bare host: its SRV (none here), then 8448, Host is the delegated name.
        let t = offline()
            .resolve(
                "example.org",
                &Delegates(r#"{"m.server": "matrix.example.org"}"#),
                &f,
            )
            .await
            .unwrap();
        assert_eq!(t.base_url(), "https://matrix.example.org:8448");
        assert_eq!(t.host_header, "matrix.example.org");
        // No usable well-known: the server name itself on 8448.
        let d = offline();
        let t = d.resolve("example.org", &NoWellKnown, &f).await.unwrap();
        assert_eq!(
            (t.base_url().as_str(), t.host_header.as_str()),
            ("https://example.org:8448", "example.org")
        );
        let t = offline()
            .resolve("example.org", &Delegates("<html>"), &f)
            .await
            .unwrap();
        assert_eq!(t.base_url(), "https://example.org:8448");
        // Cached: a second resolution does not ask again.
        let t = d
            .resolve(
                "example.org",
                &Delegates(r#"{"m.server": "other.example:1"}"#),
                &f,
            )
            .await
            .unwrap();
        assert_eq!(t.base_url(), "https://example.org:8448");
    }

    #[tokio::test]
    async fn literals_and_explicit_ports_are_direct() {
        let d = Discovery::new();
        let f = IpFilter::new(&[], &[]).unwrap();
        let t = d.resolve("127.0.0.1:8449", &NoWellKnown, &f).await.unwrap();
        assert_eq!(t.base_url(), "https://127.0.0.1:8449");
        assert_eq!(t.host_header, "127.0.0.1:8449");
        let t = d.resolve("[::1]", &NoWellKnown, &f).await.unwrap();
        assert_eq!(t.base_url(), "https://[::1]:8448");
        let t = d
            .resolve("example.org:1234", &NoWellKnown, &f)
            .await
            .unwrap();
        assert_eq!(t.base_url(), "https://example.org:1234");
        assert_eq!(t.pinned, None);
        assert_eq!(ip_of_host("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(ip_of_host("example.org"), None);
        let loopback: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        for other_spelling in [
            "2130706433",
            "0x7f000001",
            "127.1",
            "0177.0.0.1",
            "0x7F.0.0.1",
        ] {
            assert_eq!(ip_of_host(other_spelling), loopback, "{other_spelling}");
        }
        assert_eq!(ip_of_host("0"), Some("0.0.0.0".parse().unwrap()));
        assert_eq!(ip_of_host("1.example"), None);
    }

    #[test]
    fn well_known_bodies() {
        assert_eq!(
            parse_well_known(br#"{"m.server": "matrix.example.org:443"}"#).as_deref(),
            Some("matrix.example.org:443")
        );
        assert_eq!(parse_well_known(br#"{"m.server": "not a name"}"#), None);
        assert_eq!(parse_well_known(b"<html>"), None);
        assert_eq!(parse_well_known(br#"{"m.server": 3}"#), None);
    }
}
