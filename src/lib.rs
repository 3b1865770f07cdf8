//! gatehouse: an identity provider in one binary. See ARCHITECTURE in the README for the
//! map of modules; `app` is the composition root.

pub mod app;
pub mod backup;
pub mod bootstrap;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod directory;
pub mod email;
pub mod events;
pub mod flow;
pub mod fsutil;
pub mod metrics;
pub mod mfa;
pub mod model;
pub mod policy;
pub mod providers;
pub mod service;
pub mod session;
pub mod store;
pub mod tasks;
pub mod web;
