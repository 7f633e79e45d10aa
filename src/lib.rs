pub mod capture;
pub mod cli;
pub mod turn;
pub mod wire;
