use jwt_extractor::{MaxAuthAge, RequireScope};

async fn write(_: RequireScope) {}

async fn change_password(_: MaxAuthAge) {}

fn main() {
    let _guard = jwt_extractor::require_scope();
}
