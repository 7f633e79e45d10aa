pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod wire;
