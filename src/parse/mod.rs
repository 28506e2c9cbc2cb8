//! Parse stage: peels the syslog header layers (PRI, relay header, device header) off a raw
//! line and turns the device's clock text into UTC time, handing the body to classify.

pub(crate) mod clock;
pub(crate) mod firewall;
pub(crate) mod header;
pub(crate) mod trust;

pub use header::parse_header;
