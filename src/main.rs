// glibc's allocator slows down sharply once the heap holds hundreds of MB of small objects (a
// ping went from 40 to 140 µs with 100,000 clients in memory storage); mimalloc stays flat.
// Figures: `cargo bench --bench memory`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {}
