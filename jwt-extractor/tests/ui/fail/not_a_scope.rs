fn main() {
    let _guard = jwt_extractor::require_scope::<&'static str>();
}
