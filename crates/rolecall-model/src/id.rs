//! Client-visible ids: `[A-Za-z0-9._:@-]{1,128}`.

/// The longest id a client may choose.
pub const MAX_ID_LEN: usize = 128;

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id `{id}`: ids are 1 to 128 characters of A-Z a-z 0-9 . _ : @ -")]
pub struct IdError {
    pub kind: &'static str,
    pub id: String,
}

/// Checks that `id` is a valid id for an entity of `kind` (used in the error message).
pub fn validate_id(kind: &'static str, id: &str) -> Result<(), IdError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'));
    if ok {
        Ok(())
    } else {
        // Never echo an arbitrarily long input back in full.
        let shown: String = id.chars().take(MAX_ID_LEN + 1).collect();
        Err(IdError { kind, id: shown })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(validate_id("user", "alice@example.com").is_ok());
        assert!(validate_id("user", "a.b_c:d-e").is_ok());
        assert!(validate_id("user", &"x".repeat(128)).is_ok());
    }

    #[test]
    fn refuses_empty_long_and_foreign_characters() {
        for bad in ["", "a b", "a/b", "é", "a\nb"] {
            assert!(validate_id("user", bad).is_err(), "{bad:?} should be refused");
        }
        let err = validate_id("group", &"x".repeat(129)).unwrap_err();
        assert_eq!(err.kind, "group");
    }
}
