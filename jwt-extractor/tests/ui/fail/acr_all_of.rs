use jwt_extractor::{AllOf, RequireAcr, acr};

acr!(pub Mfa = "mfa", pub Phr = "phr");

// A token carries one `acr`: "all of" two levels can never be met.
async fn handler(_: RequireAcr<AllOf<(Mfa, Phr)>>) {}

fn main() {}
