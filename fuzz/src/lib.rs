//! Shared pieces of the fuzz targets: structured JSON (so that the fuzzer writes
//! headers and claims a verifier reads, duplicates and all), tokens signed with
//! the test key (so that it gets past the signature), and the invariants every
//! outcome must satisfy.
use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt_layer::{AuthError, VerifyingKey, KeySet, Validator};

/// The HMAC secret of every fuzz target.
pub const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-32";
/// The issuer and audience the strict validator expects.
pub const ISSUER: &str = "https://auth.fuzz";
/// The audience the strict validator expects.
pub const AUDIENCE: &str = "https://api.fuzz";
/// The key id of the test key.
pub const KID: &str = "k1";

/// Seconds since the epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// A strict validator (issuer, audience, `at+jwt`, `sub` required) and a relaxed
/// one (any `typ`, no `sub` needed), both for the HS256 test key.
pub fn validators() -> [Validator; 2] {
    let keys = || {
        KeySet::single(
            VerifyingKey::hmac(Algorithm::HS256, SECRET)
                .expect("a 32-byte secret")
                .with_kid(KID),
        )
    };
    [
        Validator::builder(keys())
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .build()
            .expect("valid configuration"),
        Validator::builder(keys())
            .accept_any_type()
            .allow_missing_subject()
            .build()
            .expect("valid configuration"),
    ]
}

/// A JSON value, written by [`Json::write`] as text, so that objects can carry
/// duplicated members, numbers can be out of range, and nesting can be deep.
#[derive(Arbitrary, Debug)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(Text),
    Array(Vec<Json>),
    Object(Vec<(Name, Json)>),
}

/// Numbers near the values that matter (now, the leeway, the lifetime cap) and anywhere.
#[derive(Arbitrary, Debug)]
pub enum Number {
    /// `now + offset` seconds.
    NearNow(i32),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    /// A literal a parser may choke on (`1e400`, `-0`, `1.0e-400`).
    Literal(u8),
}

/// Strings: the values a validator compares with, and anything.
#[derive(Arbitrary, Debug)]
pub enum Text {
    Issuer,
    Audience,
    Kid,
    AtJwt,
    Hs256,
    /// `typ` with a multibyte character straddling the `application/` prefix.
    Straddling(u8),
    Any(String),
}

/// Member names: the registered ones and anything.
#[derive(Arbitrary, Debug)]
pub enum Name {
    Alg,
    Kid,
    Typ,
    Crit,
    Exp,
    Nbf,
    Iat,
    Iss,
    Aud,
    Sub,
    Jti,
    Sid,
    Roles,
    Role,
    Scope,
    Any(String),
}

/// Nesting deeper than this is written as `null`, to keep the writer's own
/// recursion bounded; it is still past serde_json's limit of 128.
const MAX_DEPTH: usize = 160;

impl Json {
    /// The JSON text of this value.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            out.push_str("null");
            return;
        }
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => n.write(out),
            Json::String(t) => push_string(out, &t.value()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out, depth + 1);
                }
                out.push(']');
            }
            Json::Object(members) => write_object(out, members, depth),
        }
    }
}

/// Writes an object from members, duplicates kept.
pub fn write_object(out: &mut String, members: &[(Name, Json)], depth: usize) {
    out.push('{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, name.as_str());
        out.push(':');
        value.write(out, depth + 1);
    }
    out.push('}');
}

fn push_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

impl Number {
    fn write(&self, out: &mut String) {
        let text = match self {
            Number::NearNow(offset) => (now() as i64 + i64::from(*offset)).to_string(),
            Number::Unsigned(n) => n.to_string(),
            Number::Signed(n) => n.to_string(),
            Number::Float(f) if f.is_finite() => format!("{f:?}"),
            Number::Float(_) => "1e400".into(),
            Number::Literal(n) => match n % 6 {
                0 => "1e400",
                1 => "-0",
                2 => "1.0e-400",
                3 => "18446744073709551616",
                4 => "-9223372036854775809",
                _ => "0.5",
            }
            .into(),
        };
        out.push_str(&text);
    }
}

impl Text {
    fn value(&self) -> String {
        match self {
            Text::Issuer => ISSUER.into(),
            Text::Audience => AUDIENCE.into(),
            Text::Kid => KID.into(),
            Text::AtJwt => "at+jwt".into(),
            Text::Hs256 => "HS256".into(),
            Text::Straddling(n) => format!("{}é/at+jwt", "a".repeat(usize::from(n % 16))),
            Text::Any(s) => s.clone(),
        }
    }
}

impl Name {
    fn as_str(&self) -> &str {
        match self {
            Name::Alg => "alg",
            Name::Kid => "kid",
            Name::Typ => "typ",
            Name::Crit => "crit",
            Name::Exp => "exp",
            Name::Nbf => "nbf",
            Name::Iat => "iat",
            Name::Iss => "iss",
            Name::Aud => "aud",
            Name::Sub => "sub",
            Name::Jti => "jti",
            Name::Sid => "sid",
            Name::Roles => "roles",
            Name::Role => "role",
            Name::Scope => "scope",
            Name::Any(s) => s,
        }
    }
}

/// A token built from a header and claims: signed with the test key (so the
/// claims rules are reached), or with a signature of the fuzzer's choice.
#[derive(Arbitrary, Debug)]
pub struct TokenInput {
    /// A header object: `{"alg":"HS256","typ":"at+jwt","kid":"k1"}` first unless
    /// `bare_header`, then the fuzzer's members (so they may repeat ours).
    pub header: Vec<(Name, Json)>,
    pub bare_header: bool,
    /// Replaces the header object with any JSON value.
    pub header_root: Option<Json>,
    /// Claims: a good base set first unless `bare_claims`, then the fuzzer's.
    pub claims: Vec<(Name, Json)>,
    pub bare_claims: bool,
    pub claims_root: Option<Json>,
    /// `None`: a real HS256 signature; `Some`: these bytes (base64url-encoded).
    pub signature: Option<Vec<u8>>,
}

impl TokenInput {
    /// The compact JWS.
    pub fn token(&self) -> String {
        let header = match &self.header_root {
            Some(root) => root.to_text(),
            None => {
                let mut members: Vec<String> = Vec::new();
                if !self.bare_header {
                    members.push(r#""alg":"HS256","typ":"at+jwt","kid":"k1""#.into());
                }
                let mut extra = String::new();
                write_object(&mut extra, &self.header, 0);
                let extra = extra.trim_start_matches('{').trim_end_matches('}');
                if !extra.is_empty() {
                    members.push(extra.to_owned());
                }
                format!("{{{}}}", members.join(","))
            }
        };
        let claims = match &self.claims_root {
            Some(root) => root.to_text(),
            None => {
                let now = now();
                let mut members: Vec<String> = Vec::new();
                if !self.bare_claims {
                    members.push(format!(
                        r#""iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"user","iat":{now},"exp":{}"#,
                        now + 60
                    ));
                }
                let mut extra = String::new();
                write_object(&mut extra, &self.claims, 0);
                let extra = extra.trim_start_matches('{').trim_end_matches('}');
                if !extra.is_empty() {
                    members.push(extra.to_owned());
                }
                format!("{{{}}}", members.join(","))
            }
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = match &self.signature {
            Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            None => jsonwebtoken::crypto::sign(
                input.as_bytes(),
                &EncodingKey::from_secret(SECRET),
                Algorithm::HS256,
            )
            .expect("HMAC signing cannot fail"),
        };
        format!("{input}.{signature}")
    }
}

/// A good token, signed with the test key, for subject `sub`, valid for an hour.
pub fn good_token(sub: &str) -> String {
    let now = now();
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600
    });
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(KID.into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET))
        .expect("HMAC signing cannot fail")
}

/// Errors `Validator::verify` may return: the token-level ones. The request-level
/// ones (missing, conflicting, store, CSRF, scope) must never come out of it.
pub fn is_token_error(err: &AuthError) -> bool {
    !matches!(
        err,
        AuthError::Missing
            | AuthError::MalformedHeader
            | AuthError::ConflictingCredentials
            | AuthError::Revoked
            | AuthError::StoreUnavailable
            | AuthError::SourceFailed
            | AuthError::CrossSiteRequest
            | AuthError::InsufficientScope
            | AuthError::MissingScope { .. }
            | AuthError::InsufficientUserAuthentication { .. }
    )
}
