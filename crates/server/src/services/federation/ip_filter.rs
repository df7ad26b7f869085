//! Which addresses outgoing federation requests may connect to. Checked on the resolved
//! addresses (and on IP literals in URLs), so a name pointing at a private address is refused
//! as surely as the address itself.

use std::net::IpAddr;

use ipnet::IpNet;

/// Ranges refused unless allowed: loopback, private, link-local, CGNAT, multicast, unspecified,
/// documentation and other special-purpose ranges, for IPv4 and IPv6 (Synapse's default
/// `ip_range_blacklist`, plus the unspecified addresses it always adds, plus the two deprecated
/// IPv6 forms that carry an IPv4 address: IPv4-compatible `::a.b.c.d` and IPv4-translated
/// `::ffff:0:a.b.c.d`, which no peer uses and which could otherwise name a private address).
pub const DEFAULT_DENIED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::/96",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "::ffff:0:0:0/96",
    "64:ff9b::/96",
    "64:ff9b:1::/48",
    "100::/64",
    "2001:db8::/32",
    "2002::/16",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

/// A deny list with holes punched by an allow list.
#[derive(Clone, Debug)]
pub struct IpFilter {
    denied: Vec<IpNet>,
    allowed: Vec<IpNet>,
}

impl IpFilter {
    /// Parses CIDR ranges (a bare address is a single-address range).
    pub fn new(denied: &[String], allowed: &[String]) -> Result<Self, String> {
        Ok(Self {
            denied: parse_all(denied)?,
            allowed: parse_all(allowed)?,
        })
    }

    /// Whether connecting to `ip` is allowed.
    pub fn permits(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.allowed.iter().any(|n| n.contains(&ip)) || !self.denied.iter().any(|n| n.contains(&ip))
    }
}

fn parse_all(ranges: &[String]) -> Result<Vec<IpNet>, String> {
    ranges
        .iter()
        .map(|r| {
            r.parse::<IpNet>()
                .or_else(|_| r.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{r:?} is not an IP range"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default() -> IpFilter {
        let denied: Vec<String> = DEFAULT_DENIED.iter().map(|s| (*s).to_owned()).collect();
        IpFilter::new(&denied, &[]).unwrap()
    }

    #[test]
    fn defaults_refuse_private_ranges() {
        let f = default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::ffff:0:127.0.0.1",
        ] {
            assert!(!f.permits(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(f.permits(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn allow_list_punches_holes() {
        let denied: Vec<String> = DEFAULT_DENIED.iter().map(|s| (*s).to_owned()).collect();
        let f = IpFilter::new(&denied, &["127.0.0.0/8".into(), "::1".into()]).unwrap();
        assert!(f.permits("127.0.0.1".parse().unwrap()));
        assert!(f.permits("::1".parse().unwrap()));
        assert!(!f.permits("10.0.0.1".parse().unwrap()));
        assert!(IpFilter::new(&["nope".into()], &[]).is_err());
    }
}
