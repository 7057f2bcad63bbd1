use jwt_extractor::{AnyOf, RequireRole, role};

role!(pub Admin = "admin");

async fn handler(_: RequireRole<AnyOf<(Admin, &'static str)>>) {}

fn main() {}
