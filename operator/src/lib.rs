//! The Baseplate operator: keeps every App's children true to the App and its Platforms.

pub mod cli;
pub mod controller;
pub mod diff;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod offline;
pub mod telemetry;
