use jwt_extractor::Claims;

struct User {
    sub: String,
}

async fn handler(Claims(user): Claims<User>) -> String {
    user.sub.clone()
}

fn main() {}
