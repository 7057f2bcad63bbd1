use jwt_extractor::{RequireRole, scope};

scope!(pub NotesWrite = "notes:write");

async fn handler(_: RequireRole<NotesWrite>) {}

fn main() {}
