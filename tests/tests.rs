//! One integration-test binary (one link step); a module per area.

mod suite;
