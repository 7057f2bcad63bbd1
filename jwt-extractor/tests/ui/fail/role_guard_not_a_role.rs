fn main() {
    let _guard = jwt_extractor::require_role::<u32>();
}
