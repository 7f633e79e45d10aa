pub mod capture;
pub mod cli;
pub mod wire;
