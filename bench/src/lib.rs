//! Shared parts of the memory benchmarks (`benches/peers`, `benches/memory`): the workload,
//! an allocator that counts live bytes, and the table printer. The peers themselves are
//! dependencies of the benchmark targets only.

pub mod alloc;
pub mod histogram;
pub mod table;
pub mod workload;
