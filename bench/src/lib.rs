//! Shared parts of the peer benchmark (`benches/peers`): the workload, an allocator that
//! counts live bytes, and the table printer. The peers themselves are dependencies of the
//! benchmark target only.

pub mod alloc;
pub mod histogram;
pub mod table;
pub mod workload;
