use jwt_extractor::RequireRole;

async fn handler(_: RequireRole<String>) {}

fn main() {}
