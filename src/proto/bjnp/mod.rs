//! Canon BJNP / MFNP wire format (docs/PROTOCOLS.md §1-3, §5).
//!
//! Zero-copy views over `&[u8]`: nothing here allocates or knows about flows. Codes are newtypes
//! with named constants so an unknown code survives as its number instead of failing the parse.
//!
//! `header`: the 16-byte header, its codes and the messages of a datagram; `framer`: messages
//! cut out of a TCP stream; `payload`: each command's payload; `check`: the consistency checks.

mod check;
mod framer;
mod header;
mod payload;

pub use check::*;
pub use framer::*;
pub use header::*;
pub use payload::*;

#[cfg(test)]
mod tests;
