//! (being written)

pub mod sandbox;
