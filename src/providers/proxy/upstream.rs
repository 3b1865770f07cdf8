//! Proxy mode: forwarding an authorized request to the provider's internal host.
//! (Being written; see `forward`.)
