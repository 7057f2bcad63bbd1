jwt_extractor::role!(pub Nobody = "");

fn main() {}
