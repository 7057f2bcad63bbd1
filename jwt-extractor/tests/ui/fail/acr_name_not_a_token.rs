jwt_extractor::acr!(pub Empty = "");
jwt_extractor::acr!(pub Escaped = "mfa\\level");

fn main() {}
