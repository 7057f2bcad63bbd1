use jwt_extractor::Require;

struct AdminsOnly;

async fn handler(_: Require<AdminsOnly>) {}

fn main() {}
