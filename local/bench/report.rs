//! One benchmark's outcome: its markdown section, its figures as JSON (for the chart), and
//! what went wrong (a part that could not be measured says why, in the table too).

use serde_json::Value;

pub struct Part {
    pub markdown: String,
    pub json: Value,
    pub errors: Vec<String>,
}
