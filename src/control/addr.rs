//! Listen addresses for `--control` and `--metrics`: `PORT` (loopback),
//! `HOST:PORT`, `[V6]:PORT`. Only loopback addresses may serve the control
//! API without a token.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl ListenAddr {
    pub fn is_loopback(&self) -> bool {
        self.0.ip().is_loopback()
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(port) = t.parse::<u16>() {
            return Ok(ListenAddr(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                port,
            )));
        }
        if let Ok(a) = t.parse::<SocketAddr>() {
            return Ok(ListenAddr(a));
        }
        // Host names (e.g. `localhost:9090`): the first address they resolve to.
        match t.to_socket_addrs() {
            Ok(mut it) => it
                .next()
                .map(ListenAddr)
                .ok_or_else(|| format!("`{t}` resolves to no address")),
            Err(_) => Err(format!(
                "`{t}` is not an address: write PORT (loopback), HOST:PORT or [IPv6]:PORT, e.g. `9090` or `0.0.0.0:9090`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_alone_bind_loopback() {
        let a: ListenAddr = "9090".parse().unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:9090");
        assert!(a.is_loopback());
        let b: ListenAddr = "0.0.0.0:9090".parse().unwrap();
        assert!(!b.is_loopback());
        let c: ListenAddr = "[::1]:80".parse().unwrap();
        assert!(c.is_loopback());
        assert!(
            "nine"
                .parse::<ListenAddr>()
                .unwrap_err()
                .contains("HOST:PORT")
        );
    }
}
