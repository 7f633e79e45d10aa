pub mod capture;
pub mod wire;
