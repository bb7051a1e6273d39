//! Shared parts of the benchmarks: the memory benchmarks' workload (`benches/peers`,
//! `benches/memory`), an allocator that counts live bytes, the table printer, and the posts
//! the Redis and codec benchmarks store. The peers themselves are dependencies of the
//! benchmark targets only.

pub mod alloc;
pub mod histogram;
pub mod posts;
pub mod table;
pub mod workload;
