//! The token's parts as sent, parsed strictly before anything trusts them: the
//! shape of the compact form, the JOSE header, the registered claims, NumericDates
//! and media types. Every input here is attacker-controlled (the fuzz targets and
//! property tests reach all of it through `Validator::verify`), so nothing here
//! slices, indexes or unwraps.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AuthError;

/// The JOSE header fields the policy reads. Anything else (`jwk`, `jku`, `x5u`,
/// `x5c`, …) is ignored: a token never chooses its own key.
///
/// A member that is present must have its type: `"kid": null` or `"typ": 7` is
/// refused, never read as absent (another verifier could read it otherwise).
#[derive(Deserialize)]
pub(super) struct JoseHeader {
    pub(super) alg: Algorithm,
    #[serde(default, deserialize_with = "present_string")]
    pub(super) kid: Option<String>,
    #[serde(default, deserialize_with = "present_string")]
    pub(super) typ: Option<String>,
    /// Whether `crit` is present, whatever its value (`null` included): no
    /// extension is understood, so any `crit` is refused (RFC 7515 §4.1.11).
    #[serde(default, deserialize_with = "present")]
    pub(super) crit: bool,
}

/// A header member that, when present, must be a JSON string (not `null`).
fn present_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// `true` for a member that is present, whatever its value.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// The registered claims, as sent (types are checked by `check_claims`). A
/// member that is present is kept whatever its value, so `"nbf": null` is a
/// claim of the wrong type, never an absent one.
#[derive(Deserialize)]
pub(super) struct Registered {
    #[serde(default, deserialize_with = "present_value")]
    pub(super) exp: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) nbf: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) iat: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) iss: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) aud: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) sub: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) jti: Option<Value>,
    #[serde(default, deserialize_with = "present_value")]
    pub(super) sid: Option<Value>,
}

/// A member that is present, `null` included.
fn present_value<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

pub(super) fn decode_part<P: DeserializeOwned>(part: &str) -> Result<P, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed)?;
    parse_object(&bytes)
}

/// Parses a JOSE header or a claims set, which must be a JSON object (RFC 7515
/// §4, RFC 7519 §7.2). serde would also fill a struct from a JSON array, field
/// by field; such a token means something else to every other verifier.
pub(super) fn parse_object<P: DeserializeOwned>(bytes: &[u8]) -> Result<P, AuthError> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(AuthError::Malformed);
    }
    serde_json::from_slice(bytes).map_err(|_| AuthError::Malformed)
}

pub(super) fn string_claim(value: Option<Value>) -> Result<Option<String>, AuthError> {
    match value {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err(AuthError::InvalidClaim),
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds; fractions are cut.
pub(super) fn numeric_date(value: Option<&Value>) -> Result<Option<u64>, AuthError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_u64() {
                Ok(Some(secs))
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
                        Ok(Some(f as u64))
                    }
                    _ => Err(AuthError::InvalidClaim),
                }
            }
        }
        Some(_) => Err(AuthError::InvalidClaim),
    }
}

/// RFC 7515 §4.1.9: media types compare case-insensitively, and the
/// `application/` prefix may be left out.
pub(super) fn same_media_type(expected: &str, given: &str) -> bool {
    // On bytes: the `typ` comes from the token, and a multibyte character may
    // straddle any offset (slicing the `str` there would panic).
    fn strip(t: &[u8]) -> &[u8] {
        const PREFIX: &[u8] = b"application/";
        match t.split_at_checked(PREFIX.len()) {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case(PREFIX) => rest,
            _ => t,
        }
    }
    strip(expected.as_bytes()).eq_ignore_ascii_case(strip(given.as_bytes()))
}

/// Cheap structural checks before any base64 or JSON work.
pub(super) fn check_shape(token: &str, max_len: usize) -> Result<(), AuthError> {
    if token.is_empty() || token.len() > max_len {
        return Err(AuthError::Malformed);
    }
    // Every byte is looked at, with no early exit, so the compiler checks many
    // bytes per instruction (a byte-by-byte loop was a tenth of an HS256
    // verification); the dots are then found by `split`'s memchr.
    let charset = token.bytes().fold(true, |ok, byte| {
        ok & (byte.is_ascii_alphanumeric() | (byte == b'-') | (byte == b'_') | (byte == b'.'))
    });
    if !charset {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None)
            if !header.is_empty() && !payload.is_empty() && !signature.is_empty() =>
        {
            Ok(())
        }
        _ => Err(AuthError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_checks() {
        assert!(check_shape("a.b.c", 100).is_ok());
        for bad in [
            "", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a.b.c=", "a.b.c ", "é.b.c",
        ] {
            assert_eq!(check_shape(bad, 100), Err(AuthError::Malformed), "{bad:?}");
        }
        assert_eq!(check_shape("aa.bb.cc", 7), Err(AuthError::Malformed));
    }

    #[test]
    fn media_types() {
        assert!(same_media_type("at+jwt", "AT+JWT"));
        assert!(same_media_type("at+jwt", "application/at+jwt"));
        assert!(!same_media_type("at+jwt", "jwt"));
        assert!(!same_media_type("at+jwt", "application/"));
        // A multibyte character straddling the prefix's length must not panic.
        assert!(!same_media_type("at+jwt", "aaaaaaaaaaaé"));
        assert!(!same_media_type("at+jwt", "applicationé/at+jwt"));
        assert!(!same_media_type("aaaaaaaaaaaé", "at+jwt"));
    }

    #[test]
    fn numeric_dates() {
        assert_eq!(numeric_date(Some(&serde_json::json!(10))), Ok(Some(10)));
        assert_eq!(numeric_date(Some(&serde_json::json!(10.9))), Ok(Some(10)));
        assert_eq!(
            numeric_date(Some(&serde_json::json!(-1))),
            Err(AuthError::InvalidClaim)
        );
        assert_eq!(
            numeric_date(Some(&serde_json::json!("10"))),
            Err(AuthError::InvalidClaim)
        );
        assert_eq!(
            numeric_date(Some(&serde_json::json!(1e300))),
            Err(AuthError::InvalidClaim)
        );
    }
}
