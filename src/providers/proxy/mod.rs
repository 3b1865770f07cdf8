//! The proxy provider: forward authentication for Traefik, Caddy and nginx, and proxy
//! mode (gatehouse as the reverse proxy), served by the embedded outpost.

pub mod upstream;
