// A quote would end the `scope="…"` of a challenge early.
jwt_extractor::scope!(pub Sneaky = "notes\", error=\"none");

fn main() {}
