//! Binary sizes, and the deployment zip Lambda gets (`bootstrap` alone in a zip, deflated).

use std::io::Write;

use serde_json::json;
use zip::write::SimpleFileOptions;

use crate::report::Part;
use crate::util::binary;

pub const FUNCTIONS: [&str; 5] = ["studio-domain", "studio-user-profile", "studio-space", "studio-lifecycle-config", "studio-signin-url"];

pub fn run() -> Part {
    let mut md = String::from("### Binary and deployment sizes\n\n");
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut profile = "";
    let mut table = String::from("| function | binary | deployment zip |\n|---|---:|---:|\n");
    for function in FUNCTIONS {
        match measure(function) {
            Ok((path, binary_bytes, zip_bytes)) => {
                profile = if path.contains("/release/") { "stripped release build" } else { "NOT a release build (smoke run)" };
                table.push_str(&format!("| `{function}` | {} | {} |\n", mb(binary_bytes), mb(zip_bytes)));
                rows.push(json!({"function": function, "binary_bytes": binary_bytes, "zip_bytes": zip_bytes}));
            }
            Err(e) => {
                table.push_str(&format!("| `{function}` | not measured: {} | |\n", e.lines().next().unwrap_or_default().replace('|', "/")));
                rows.push(json!({"function": function, "error": e}));
                errors.push(format!("size of {function}: {e}"));
            }
        }
    }
    md.push_str(&format!("Binaries: {profile}. Zip: `bootstrap` alone, deflated, as Lambda takes it.\n\n{table}"));
    Part { markdown: md, json: json!({"build": profile, "rows": rows}), errors }
}

/// (path, binary bytes, zip bytes)
fn measure(function: &str) -> Result<(String, u64, u64), String> {
    let path = binary(function)?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("bootstrap", SimpleFileOptions::default().unix_permissions(0o755)).map_err(|e| e.to_string())?;
    zip.write_all(&bytes).map_err(|e| e.to_string())?;
    let zipped = zip.finish().map_err(|e| e.to_string())?.into_inner();
    Ok((path.display().to_string(), bytes.len() as u64, zipped.len() as u64))
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}
