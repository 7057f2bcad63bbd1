jwt_extractor::role!(pub SuperUser = "super user");

fn main() {}
