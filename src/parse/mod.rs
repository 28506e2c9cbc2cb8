//! Parse stage: peels the syslog header layers (PRI, relay header, device header) off a raw
//! line and turns the device's clock text into UTC time, handing the body to classify.

pub mod clock;
pub mod header;

pub use clock::{ClockSync, DeviceStamp, month_from_abbrev};
pub use header::{SyslogHeader, parse_header};
