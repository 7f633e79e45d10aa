pub mod capture;
pub mod cli;
pub mod decode;
pub mod replay;
pub mod serve;
pub mod turn;
pub mod wire;
