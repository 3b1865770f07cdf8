//! Server-rendered pages: flows, the user portal, the admin overview, static assets.

pub mod devices;
pub mod flow_pages;
pub mod portal;
pub mod recovery;
pub mod static_files;
