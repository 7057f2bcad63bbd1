//! The user accounts, kept in SQLite through `sqlx`.
use std::str::FromStr;

use jwt_layer::password::PasswordHasher;
use jwt_layer::{UserError, VerifiedToken};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::error::ApiError;
use crate::server::BoxError;

// ANCHOR: rules
/// The shortest password accepted: NIST SP 800-63B asks for at least 8
/// characters and no composition rules ("one digit, one symbol"), which mostly
/// produce `Password1!`. The longest is the hasher's limit (1 KiB).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Usernames are 3 to 32 characters of `a-z`, `0-9`, `.`, `_` and `-`, starting
/// with a letter: no look-alike Unicode names, no `Alice` beside `alice`.
pub const USERNAME_CHARS: std::ops::RangeInclusive<usize> = 3..=32;
// ANCHOR_END: rules

// ANCHOR: user
/// An account as the database holds it: never the password itself.
#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    /// Argon2id, as a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`.
    pub password_hash: String,
    pub roles: Vec<String>,
}

// ANCHOR: account
/// The user as handlers see it, loaded from the database on every request:
/// today's roles, not those frozen into the token at login, and no password hash.
#[derive(Debug, Clone)]
pub struct Account {
    pub username: String,
    pub roles: Vec<String>,
}
// ANCHOR_END: account

/// The accounts table, and the password hasher every sign-up and login goes
/// through (it bounds how many Argon2id hashes run at once).
pub struct Users {
    pool: SqlitePool,
    passwords: PasswordHasher,
}
// ANCHOR_END: user

impl Users {
    // ANCHOR: connect
    /// Opens the database at `url` (`sqlite:notes.db`: a file, created if
    /// missing; `sqlite::memory:` for tests) and applies the migrations of
    /// `migrations/`, which `sqlx::migrate!` embeds in the program at build time.
    pub async fn connect(url: &str) -> Result<Self, BoxError> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await?;
        sqlx::migrate!().run(&pool).await?;
        Ok(Self {
            pool,
            passwords: PasswordHasher::new(),
        })
    }
    // ANCHOR_END: connect

    /// The user called `username`, if any.
    pub async fn find(&self, username: &str) -> Result<Option<User>, sqlx::Error> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT username, password_hash, roles FROM users WHERE username = ?")
                .bind(username)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(username, password_hash, roles)| User {
            username,
            password_hash,
            roles: roles.split_whitespace().map(str::to_owned).collect(),
        }))
    }

    // ANCHOR: sign_up
    /// A new account with the role `user`.
    pub async fn sign_up(&self, username: &str, password: &str) -> Result<User, ApiError> {
        check_username(username)?;
        check_password(password)?;
        // Hash before asking whether the name is free: a taken name and a free
        // one cost the same time. (The answer still differs, 409 or 201: a
        // sign-up form cannot hide which names exist, only how fast it says so.)
        let password_hash = self.passwords.hash(password).await?;
        // The UNIQUE constraint decides, so two sign-ups racing for one name
        // cannot both win.
        let inserted = sqlx::query(
            "INSERT INTO users (username, password_hash) VALUES (?, ?) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(&password_hash)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ApiError::UsernameTaken);
        }
        tracing::info!(username, "account created");
        Ok(User {
            username: username.to_owned(),
            password_hash,
            roles: vec!["user".to_owned()],
        })
    }
    // ANCHOR_END: sign_up

    // ANCHOR: authenticate
    /// The user, if `username` exists and `password` is theirs. An unknown user
    /// costs the same Argon2id verification as a wrong password (against a
    /// dummy hash) and gets the same answer: a login cannot tell which
    /// accounts exist.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, ApiError> {
        let user = self.find(username).await?;
        let stored = user.as_ref().map(|u| u.password_hash.as_str());
        if self.passwords.verify(password, stored).await? {
            Ok(user)
        } else {
            Ok(None)
        }
    }
    // ANCHOR_END: authenticate

    // ANCHOR: admin
    /// Every username, for the administrators.
    pub async fn list(&self) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT username FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await
    }

    /// Replaces the password of `username`, with the same rules as sign-up.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), ApiError> {
        check_password(password)?;
        let password_hash = self.passwords.hash(password).await?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE username = ?")
            .bind(password_hash)
            .bind(username)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
    // ANCHOR_END: admin

    // ANCHOR: load_account
    /// passport's `verify(payload, done)`: the token's subject, looked up on
    /// every request by the layer (`JwtLayer::load_user`).
    pub async fn load_account(&self, token: &VerifiedToken) -> Result<Account, UserError> {
        let username = token.subject().unwrap_or_default();
        match self.find(username).await {
            Ok(Some(user)) => Ok(Account {
                username: user.username,
                roles: user.roles,
            }),
            // Deleted since the token was issued: `done(null, false)`, a 401.
            Ok(None) => Err(UserError::Unknown),
            // `done(err)`: the database is down. 503, and the reason goes to the log.
            Err(err) => Err(UserError::Unavailable(err.to_string())),
        }
    }
    // ANCHOR_END: load_account

    // ANCHOR: demo
    /// `alice` / `wonderland` (roles admin and user) and `bob` / `builder`
    /// (user), unless they exist. Demo accounts with public passwords: a real
    /// deployment creates its administrators another way.
    pub async fn add_demo_accounts(&self) -> Result<(), BoxError> {
        let accounts = [
            ("alice", "wonderland", "admin user"),
            ("bob", "builder", "user"),
        ];
        for (username, password, roles) in accounts {
            if self.find(username).await?.is_none() {
                let password_hash = self.passwords.hash(password).await?;
                sqlx::query(
                    "INSERT INTO users (username, password_hash, roles) VALUES (?, ?, ?) \
                     ON CONFLICT (username) DO NOTHING",
                )
                .bind(username)
                .bind(password_hash)
                .bind(roles)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: demo
}

/// See [`MIN_PASSWORD_CHARS`].
fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::InvalidRequest(
            "the password must have at least 8 characters",
        ));
    }
    Ok(())
}

/// See [`USERNAME_CHARS`].
fn check_username(username: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    let valid = USERNAME_CHARS.contains(&username.chars().count())
        && username.starts_with(|c: char| c.is_ascii_lowercase())
        && username.chars().all(allowed);
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "usernames are 3 to 32 characters: a-z, 0-9, '.', '_', '-', starting with a letter",
        ))
    }
}
