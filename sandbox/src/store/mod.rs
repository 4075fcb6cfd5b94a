//! The account's mutable data, kept behind one mutex by the server.

pub mod fields;
pub mod index;
pub mod kind;
pub mod links;
pub mod records;
pub mod state;
pub mod tags;

pub use kind::{Kind, Node};
pub use records::{CfVal, CfValues, Entity, Event, Note, Task};
pub use state::Store;
