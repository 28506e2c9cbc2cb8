//! The report from explained lines: what counts as seeing commands and boots.

use super::*;

#[test]
fn placeholder() {}
