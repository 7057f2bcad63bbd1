//! Parsing of the request headers that carry credentials: the `Authorization:
//! Bearer` credential (RFC 6750 §2.1) and the `Cookie` header (RFC 6265 §5.2),
//! plus the "at most once" rule. A leaf module: it imports nothing of ours but
//! the error type, so every module above it can share one reading of a request.
//!
//! Everything here works on bytes and never slices at an offset the input
//! chose, so no header, however hostile, can make it panic.
use http::header::{self, HeaderMap};

use crate::error::AuthError;

/// The one value of a credential that may appear at most once: a second one
/// (two headers, a cookie sent twice, a repeated parameter) is refused rather
/// than guessed at. A duplicated cookie, for one, is how cookie tossing from a
/// sibling subdomain shows up.
pub(crate) fn at_most_one<T>(values: impl IntoIterator<Item = T>) -> Result<Option<T>, AuthError> {
    let mut values = values.into_iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::ConflictingCredentials);
    }
    Ok(first)
}

/// Reads one `Authorization` header value as a Bearer credential.
///
/// - `Ok(None)`: another scheme (`Basic …`, `Digest …`), not ours to judge;
/// - `Ok(Some(token))`: exactly `Bearer 1*SP b64token` (the scheme in any case);
/// - `Err(MalformedHeader)`: a value that starts with `Bearer` (any case) but is
///   anything else (`Bearer<TAB>x`, `Bearer`, `Bearerx`, two tokens, a trailing
///   space). It is never read as "another scheme", so a bad Bearer header
///   cannot fall through to a cookie or another source.
pub(crate) fn bearer_token(value: &[u8]) -> Result<Option<&str>, AuthError> {
    const SCHEME: &[u8] = b"bearer";
    let rest = match value.split_at_checked(SCHEME.len()) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case(SCHEME) => rest,
        _ => return Ok(None),
    };
    let token = rest.trim_ascii_start();
    let spaces = rest.len() - token.len();
    // Only SP separates scheme and token (1*SP); any other whitespace is malformed.
    let only_spaces = rest.iter().take(spaces).all(|b| *b == b' ');
    if spaces == 0 || !only_spaces || token.is_empty() || !all_b64token(token) {
        return Err(AuthError::MalformedHeader);
    }
    // b64token characters are ASCII, so this cannot fail; refuse rather than unwrap.
    std::str::from_utf8(token)
        .map(Some)
        .map_err(|_| AuthError::MalformedHeader)
}

/// Whether every byte is a `b64token` character. Every byte is looked at, with
/// no early exit, so the compiler checks many bytes per instruction: this runs
/// on every request, over hundreds of bytes (`all`, stopping at the first bad
/// byte, checks one at a time and took about five times longer).
fn all_b64token(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, b| ok & is_b64token_char(*b))
}

/// RFC 6750 §2.1 `b64token` characters (the `=` padding included).
fn is_b64token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Every value of cookie `name` in the request's `Cookie` headers, in order.
///
/// Parsed by hand, by the rules of RFC 6265 §5.2, because the `cookie` crate
/// trims Unicode whitespace around names: with it, `\u{2000}__Host-access_token`
/// (a name a sibling site can plant, since it lacks the real `__Host-` prefix)
/// is read as `__Host-access_token`, which breaks the prefix's guarantee. Here:
/// - pairs are separated by `;`; a pair without `=` is ignored;
/// - name and value are trimmed of SP and HTAB only;
/// - a name that is not an RFC 7230 token (`tchar`s only) is ignored;
/// - names are compared byte for byte.
///
/// A value that is not UTF-8 is read lossily rather than skipped, so it is
/// refused by the token's shape check instead of hiding a second copy of the
/// cookie from the duplicate check.
pub(crate) fn cookie_values(headers: &HeaderMap, name: &str) -> Vec<String> {
    let mut values = Vec::new();
    for header in headers.get_all(header::COOKIE) {
        for pair in header.as_bytes().split(|b| *b == b';') {
            let Some((pair_name, value)) = pair
                .iter()
                .position(|b| *b == b'=')
                .and_then(|equals| pair.split_at_checked(equals))
            else {
                continue;
            };
            let value = value.get(1..).unwrap_or_default();
            let pair_name = trim_sp_htab(pair_name);
            if pair_name.is_empty() || !pair_name.iter().all(|b| is_tchar(*b)) {
                continue;
            }
            if pair_name == name.as_bytes() {
                values.push(String::from_utf8_lossy(trim_sp_htab(value)).into_owned());
            }
        }
    }
    values
}

fn trim_sp_htab(bytes: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ws(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ws(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

/// Whether `name` is a cookie name a browser sends back byte for byte: a
/// non-empty RFC 7230 token (RFC 6265 §4.1.1).
#[cfg_attr(not(feature = "issue"), allow(dead_code))]
pub(crate) fn is_cookie_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(is_tchar)
}

/// RFC 7230 §3.2.6 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn cookies(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::COOKIE, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn cookie_names_are_tokens_compared_byte_for_byte() {
        let name = "__Host-access_token";
        let h = cookies(&[b"a=1; __Host-access_token=GOOD ;b=2"]);
        assert_eq!(cookie_values(&h, name), ["GOOD"]);
        let h = cookies(&["\u{2000}__Host-access_token=BAD".as_bytes()]);
        assert!(cookie_values(&h, name).is_empty());
        let h = cookies(&["\u{a0}__Host-access_token=BAD; __Host-access_token=GOOD".as_bytes()]);
        assert_eq!(cookie_values(&h, name), ["GOOD"]);
        let h = cookies(&[b"\t__Host-access_token\t=\tGOOD\t"]);
        assert_eq!(cookie_values(&h, name), ["GOOD"]);
        let h = cookies(&[b"__host-access_token=BAD; x; =y; ;;"]);
        assert!(cookie_values(&h, name).is_empty());
        let h = cookies(&[b"__Host-access_token=a", b"__Host-access_token=b"]);
        assert_eq!(cookie_values(&h, name), ["a", "b"]);
        let h = cookies(&[b"__Host-access_token=\xff\xfe"]);
        assert_eq!(cookie_values(&h, name), ["\u{fffd}\u{fffd}"]);
    }

    #[test]
    fn bearer_rules() {
        assert_eq!(bearer_token(b"Bearer abc"), Ok(Some("abc")));
        assert_eq!(bearer_token(b"bEaReR   a.b.c"), Ok(Some("a.b.c")));
        assert_eq!(bearer_token(b"Basic dXNlcg=="), Ok(None));
        assert_eq!(bearer_token(b"Bear"), Ok(None));
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer\tabc",
            b"Bearer \tabc",
            b"Bearerabc",
            b"Bearer a b",
            b"Bearer abc ",
            b"Bearer \"abc\"",
            "Bearer é".as_bytes(),
        ] {
            assert_eq!(
                bearer_token(bad),
                Err(AuthError::MalformedHeader),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
