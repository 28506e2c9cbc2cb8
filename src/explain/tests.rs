//! Lines of each vendor through `explain`.

use super::*;
