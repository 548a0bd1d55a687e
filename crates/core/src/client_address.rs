//! The rate-limit key of an IPv6 client address. One subscriber usually holds a whole /56 or
//! /64, so a per-address key would let them rotate addresses to dodge the limit: the key is the
//! /56 prefix. (IPv4 addresses, also IPv4-mapped ones, are keyed as they are by the JS layer.)

use std::net::Ipv6Addr;

/// `a:b:c:d00::/56` for an IPv6 address (without zone index), else `unknown`.
pub fn ipv6_key(ip: &str) -> String {
    match ip.parse::<Ipv6Addr>() {
        Ok(addr) => {
            let [a, b, c, d, ..] = addr.segments();
            format!("{a:x}:{b:x}:{c:x}:{:x}::/56", d & 0xff00)
        }
        Err(_) => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::ipv6_key;

    #[test]
    fn an_address_is_keyed_by_its_56_prefix() {
        for (ip, key) in [
            (
                "2001:db8:abcd:1234:5678:9abc:def0:1",
                "2001:db8:abcd:1200::/56",
            ),
            ("2001:db8:abcd:13ff::1", "2001:db8:abcd:1300::/56"),
            ("::1", "0:0:0:0::/56"),
            ("64:ff9b::192.0.2.33", "64:ff9b:0:0::/56"),
            ("2001:DB8::", "2001:db8:0:0::/56"),
            ("10.0.0.1", "unknown"),
            ("1:2:3:4:5:6:7:8::", "unknown"),
            ("not an ip", "unknown"),
        ] {
            assert_eq!(ipv6_key(ip), key, "{ip}");
        }
    }
}
