//! Identifiers and timestamps as AWS makes them.

/// A random version-4 UUID, as AWS request ids (and Identity Center ids) look.
pub fn uuid_v4() -> String {
    let hex = format!("{:032x}", fastrand::u128(..));
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!("{}-{}-4{}-{variant}{}-{}", &hex[..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
}

/// `len` random lowercase hex digits, as resource ids carry (`sg-`, `fs-` ...).
pub fn random_hex(len: usize) -> String {
    random_chars(len, b"0123456789abcdef")
}

/// `len` random lowercase letters and digits (SageMaker's domain ids).
pub fn random_lower_alnum(len: usize) -> String {
    random_chars(len, b"abcdefghijklmnopqrstuvwxyz0123456789")
}

fn random_chars(len: usize, alphabet: &[u8]) -> String {
    (0..len).map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())])).collect()
}

/// Seconds since the epoch with milliseconds, as the JSON protocols send timestamps.
pub fn epoch_seconds() -> f64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid_v4();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), vec![8, 4, 4, 4, 12], "{id}");
        assert!(parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]), "{id}");
    }
}
