mod staging;

fn main() {}
