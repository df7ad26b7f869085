//! Outgoing federation requests: discovery, X-Matrix signing, the IP-range guard on every
//! connection (resolved addresses, IP literals and every redirect hop), timeouts.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use reqwest::{
    Response, StatusCode,
    dns::{Addrs, Name, Resolve, Resolving},
    header,
};
use ruma::OwnedServerName;

use super::{
    FederationError, IpFilter, SigningKey,
    discovery::{Discovery, Target, WellKnownFetcher, ip_of_host},
};

/// How outgoing requests behave.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// Check remote TLS certificates (Synapse's `federation_verify_certificates`).
    pub verify_certificates: bool,
    /// Which addresses may be connected to.
    pub ip_filter: IpFilter,
    /// Longest time a whole request may take, body included.
    pub request_timeout: Duration,
    /// Longest time to establish a connection.
    pub connect_timeout: Duration,
}

/// Longest wait for a `.well-known/matrix/server` answer (then discovery goes on without it).
const WELL_KNOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Largest error or JSON body read from a remote.
pub(super) const MAX_SMALL_BODY: usize = 64 * 1024;

/// The federation HTTP client.
pub struct Client {
    origin: OwnedServerName,
    key: Arc<SigningKey>,
    settings: ClientSettings,
    http: reqwest::Client,
    /// Clients pinned to SRV-found addresses, by host.
    pinned: Mutex<BTreeMap<String, reqwest::Client>>,
    discovery: Discovery,
}

/// Resolves names with the system resolver and keeps only the addresses the filter permits.
struct GuardedResolver(IpFilter);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let filter = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| filter.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(FederationError::Denied(format!("{host} ({found:?})")));
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

impl Client {
    pub fn new(
        origin: &str,
        key: Arc<SigningKey>,
        settings: ClientSettings,
    ) -> Result<Self, FederationError> {
        let origin = OwnedServerName::try_from(origin)
            .map_err(|e| FederationError::Config(format!("server_name: {e}")))?;
        let http = build_http(&settings, None)?;
        Ok(Self {
            origin,
            key,
            settings,
            http,
            pinned: Mutex::new(BTreeMap::new()),
            discovery: Discovery::new(),
        })
    }

    /// Our server name.
    pub fn origin(&self) -> &str {
        self.origin.as_str()
    }

    /// A GET to `destination`'s federation API, X-Matrix signed when `signed`.
    pub(super) async fn get(
        &self,
        destination: &str,
        path_and_query: &str,
        signed: bool,
    ) -> Result<Response, FederationError> {
        let target = self
            .discovery
            .resolve(destination, self, &self.settings.ip_filter)
            .await?;
        self.check_literal(&target.host)?;
        let client = self.client_for(&target)?;
        let mut rb = client
            .get(format!("{}{path_and_query}", target.base_url()))
            .header(header::HOST, &target.host_header)
            .timeout(self.settings.request_timeout);
        if signed {
            rb = rb.header(
                header::AUTHORIZATION,
                self.sign(destination, path_and_query)?,
            );
        }
        rb.send().await.map_err(|e| unreachable(destination, &e))
    }

    /// The X-Matrix header for a GET without body.
    fn sign(&self, destination: &str, path_and_query: &str) -> Result<String, FederationError> {
        self.key.x_matrix(
            self.origin.as_str(),
            destination,
            &http::Method::GET,
            path_and_query,
            &[],
        )
    }

    fn client_for(&self, target: &Target) -> Result<reqwest::Client, FederationError> {
        let Some(addrs) = &target.pinned else {
            return Ok(self.http.clone());
        };
        let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = pinned.get(&target.host) {
            return Ok(c.clone());
        }
        let c = build_http(&self.settings, Some((&target.host, addrs)))?;
        pinned.insert(target.host.clone(), c.clone());
        Ok(c)
    }

    /// Refuses a URL host that is an IP address the filter denies (names are checked when
    /// they are resolved).
    fn check_literal(&self, host: &str) -> Result<(), FederationError> {
        match ip_of_host(host) {
            Some(ip) if !self.settings.ip_filter.permits(ip) => {
                Err(FederationError::Denied(ip.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// A JSON document from `destination` (e.g. its keys), at most 64 KiB.
    pub async fn get_json(
        &self,
        destination: &str,
        path_and_query: &str,
        signed: bool,
    ) -> Result<serde_json::Value, FederationError> {
        let res = self.get(destination, path_and_query, signed).await?;
        let status = res.status();
        let body = read_small(res, destination).await?;
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| FederationError::Malformed(format!("not JSON: {e}")))
    }

    /// A GET of an absolute URL (a redirect or a `Location` part), following redirects, with
    /// every hop guarded.
    pub async fn get_url(&self, url: &str) -> Result<Response, FederationError> {
        let mut url = reqwest::Url::parse(url)
            .map_err(|e| FederationError::Malformed(format!("bad URL {url:?}: {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(FederationError::Malformed(format!("unsupported URL {url}")));
            }
            let host = url.host_str().unwrap_or_default().to_owned();
            self.check_literal(&host)?;
            let res = self
                .http
                .get(url.clone())
                .timeout(self.settings.request_timeout)
                .send()
                .await
                .map_err(|e| unreachable(&host, &e))?;
            if !res.status().is_redirection() {
                return Ok(res);
            }
            let location = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| FederationError::Malformed("redirect without Location".into()))?;
            url = url
                .join(location)
                .map_err(|e| FederationError::Malformed(format!("bad redirect: {e}")))?;
        }
        Err(FederationError::Malformed("too many redirects".into()))
    }
}

impl WellKnownFetcher for Client {
    async fn well_known(&self, host: &str) -> Result<Vec<u8>, FederationError> {
        let fetch = async {
            let res = self
                .get_url(&format!("https://{host}/.well-known/matrix/server"))
                .await?;
            let status = res.status();
            let body = read_small(res, host).await?;
            if status != StatusCode::OK {
                return Err(status_error(status, &body));
            }
            Ok(body.to_vec())
        };
        tokio::time::timeout(WELL_KNOWN_TIMEOUT, fetch)
            .await
            .map_err(|_| FederationError::Unreachable {
                destination: host.to_owned(),
                reason: "timed out fetching .well-known/matrix/server".into(),
            })?
    }
}

fn build_http(
    s: &ClientSettings,
    pinned: Option<(&str, &[SocketAddr])>,
) -> Result<reqwest::Client, FederationError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("mxcd/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(s.connect_timeout)
        .read_timeout(s.request_timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .tls_danger_accept_invalid_certs(!s.verify_certificates)
        .dns_resolver(Arc::new(GuardedResolver(s.ip_filter.clone())));
    if let Some((host, addrs)) = pinned {
        b = b.resolve_to_addrs(host, addrs);
    }
    b.build()
        .map_err(|e| FederationError::Config(format!("cannot build the HTTP client: {e}")))
}

/// At most 64 KiB of a (small) body.
pub(super) async fn read_small(res: Response, destination: &str) -> Result<Bytes, FederationError> {
    if res
        .content_length()
        .is_some_and(|n| n > MAX_SMALL_BODY as u64)
    {
        return Err(FederationError::Malformed("response too large".into()));
    }
    let mut out = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| unreachable(destination, &e))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_SMALL_BODY {
            return Err(FederationError::Malformed("response too large".into()));
        }
    }
    Ok(out.into())
}

pub(super) fn status_error(status: StatusCode, body: &[u8]) -> FederationError {
    let v = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_default();
    let field = |k: &str| v.get(k).and_then(|c| c.as_str()).map(str::to_owned);
    FederationError::Status {
        status: status.as_u16(),
        errcode: field("errcode"),
        error: field("error"),
    }
}

pub(super) fn unreachable(destination: &str, e: &reqwest::Error) -> FederationError {
    // A refused address surfaces as the resolver's error, somewhere in the chain.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(FederationError::Denied(what)) = s.downcast_ref::<FederationError>() {
            return FederationError::Denied(what.clone());
        }
        source = s.source();
    }
    FederationError::Unreachable {
        destination: destination.to_owned(),
        reason: error_chain(e),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}
