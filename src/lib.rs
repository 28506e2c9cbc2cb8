//! imagewatch detects tampering with the operating-system image of network devices
//! (MITRE ATT&CK T1601, Modify System Image) by correlating each device's syslog.
//!
//! # Layout
//!
//! Data flows one way, one stage per module, a plain type between stages:
//! `source → parse → classify → correlate → suppress → sink`.
//!
//! - [`time`]: milliseconds since the epoch, the one time unit of every stage.
//! - [`classify`]: signal rules (`rules/signals/*.yaml`) turn a message into a [`classify::Signal`] kind with fields.

pub mod classify;
pub mod time;
