use axum::{Router, routing::get};
use jwt_extractor::{AllOf, AnyOf, Claims, Policy, Require, RequireRole, require_role, role};
use jwt_layer::VerifiedToken;
use serde::Deserialize;

role!(pub Admin = "admin", Editor = "editor");

#[derive(Deserialize)]
struct User {
    sub: String,
}

struct Anyone;
impl Policy for Anyone {
    type Claims = User;
    fn allows(_: &User, _: &VerifiedToken) -> bool {
        true
    }
}

async fn me(Claims(user): Claims<User>) -> String {
    user.sub.clone()
}
async fn maybe(user: Option<Claims<User>>) -> String {
    user.is_some().to_string()
}
async fn admin(_: RequireRole<Admin>) {}
async fn any(_: RequireRole<AnyOf<(Admin, Editor)>>) {}
async fn all(_: RequireRole<AllOf<(Admin, AnyOf<(Editor, Admin)>)>>) {}
async fn policy(Require(user, ..): Require<Anyone>) -> String {
    user.sub.clone()
}

fn main() {
    let _app: Router = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe))
        .route("/admin", get(admin))
        .route("/any", get(any))
        .route("/all", get(all))
        .route("/policy", get(policy))
        .route_layer(require_role::<Admin>());
}
