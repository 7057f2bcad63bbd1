jwt_extractor::scope!(pub NotesWrite = "notes write");

fn main() {}
