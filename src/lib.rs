pub mod capture;
pub mod cli;
pub mod decode;
pub mod wire;
