//! Names from traces made into names the topology format takes: services
//! `[a-z][a-z0-9-]*` (pod and instance names stripped of their replica
//! suffix), endpoints `[A-Za-z][A-Za-z0-9_]*`.

/// A service name as the format takes it: lowercase, runs of anything else
/// than letters and digits as one `-`, starting with a letter.
pub fn service(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("svc-{out}"),
        None => "unknown".into(),
    }
}

/// An endpoint name as the format takes it: the last path segment of an
/// RPC name (`pkg.Cart/GetCart` → `GetCart`), runs of other characters as
/// one `_` (`GET /cart` → `GET_cart`), starting with a letter.
pub fn endpoint(raw: &str) -> String {
    let raw = raw.trim();
    let raw = match raw.rsplit_once('/') {
        Some((head, tail)) if !tail.is_empty() && !head.contains(' ') => tail,
        _ => raw,
    };
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_').to_string();
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => out,
        Some(_) => format!("Op_{out}"),
        None => "Op".into(),
    }
}

/// The service an instance (pod, replica) belongs to: the instance name
/// without its replica suffix: `api#2`, `api-0` (a StatefulSet),
/// `api-7d9f8b6c5-x2x4z` (a Deployment's pod), `api_1`, `api.1`.
pub fn strip_replica(instance: &str) -> &str {
    let s = instance.trim();
    // A Deployment's pod: NAME-<hash of 5-10>-<5>.
    if let Some((head, tail)) = s.rsplit_once('-')
        && tail.len() == 5
        && tail.chars().all(|c| c.is_ascii_alphanumeric())
        && let Some((name, hash)) = head.rsplit_once('-')
        && (5..=10).contains(&hash.len())
        && hash.chars().all(|c| c.is_ascii_alphanumeric())
        && hash.chars().any(|c| c.is_ascii_digit())
        && !name.is_empty()
    {
        return name;
    }
    for sep in ['#', '-', '_', '.'] {
        if let Some((name, n)) = s.rsplit_once(sep)
            && !name.is_empty()
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
        {
            return name;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_suffixes_are_stripped() {
        assert_eq!(strip_replica("api#2"), "api");
        assert_eq!(strip_replica("cart-0"), "cart");
        assert_eq!(strip_replica("cart-7d9f8b6c5-x2x4z"), "cart");
        assert_eq!(strip_replica("ts-order-service_3"), "ts-order-service");
        assert_eq!(strip_replica("db"), "db");
        assert_eq!(strip_replica("front-end"), "front-end");
    }

    #[test]
    fn names_become_what_the_format_takes() {
        assert_eq!(service("Cart Service"), "cart-service");
        assert_eq!(service("9lives"), "svc-9lives");
        assert_eq!(endpoint("hipstershop.CartService/GetCart"), "GetCart");
        assert_eq!(endpoint("GET /cart/{id}"), "GET_cart_id");
        assert_eq!(endpoint("Feed"), "Feed");
        assert_eq!(endpoint(""), "Op");
    }
}
