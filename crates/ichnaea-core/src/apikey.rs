//! API key text rules and the key's public label.
//!
//! A key is a secret: logs and metric tags use its label, a short one-way digest, never
//! the key itself. The label is stable, so dashboards can follow a key over time, and
//! `ichnaea-admin api-key show` prints it next to the key so operators can find it.

use sha2::{Digest, Sha256};

/// Whether text can be an API key (`api.md` §7.2): 4 to 40 letters, digits or dashes.
/// Anything else is treated as no key at all.
pub fn valid_key_text(key: &str) -> bool {
    (4..=40).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The public label of a key: `k` and the first 8 hex digits of its SHA-256.
pub fn key_label(valid_key: &str) -> String {
    let digest = Sha256::digest(valid_key.as_bytes());
    format!("k{}", &hex::encode(digest)[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_rule() {
        assert!(valid_key_text("test"));
        assert!(valid_key_text("0123e4567-e89b-12d3-a456-426614174000"));
        assert!(!valid_key_text("abc"));
        assert!(!valid_key_text("invalid_key"));
        assert!(!valid_key_text(&"a".repeat(41)));
    }

    #[test]
    fn labels_are_short_stable_digests() {
        assert_eq!(key_label("test"), "k9f86d081");
        assert_eq!(key_label("test"), key_label("test"));
        assert_ne!(key_label("test"), key_label("Test"));
    }
}
