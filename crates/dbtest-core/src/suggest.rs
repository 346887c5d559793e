//! Suggestions for misspelt names in configuration: one rule for every file dbtest reads.

/// The closest of `choices` to a misspelt `word`, if one is close: at most two edits, or a
/// quarter of the choice's length for long names.
pub fn closest<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` for the closest choice, or nothing when none is close.
pub fn did_you_mean(word: &str, choices: &[&str]) -> String {
    closest(word, choices)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_name_is_suggested_and_a_far_one_is_not() {
        let keys = ["concurrency", "samples", "success"];
        assert_eq!(closest("concurency", &keys), Some("concurrency"));
        assert_eq!(closest("sample", &keys), Some("samples"));
        assert_eq!(closest("model", &keys), None);
        assert_eq!(
            did_you_mean("pii_mas", &["pii_mask", "audit_log"]),
            " (did you mean `pii_mask`?)"
        );
        assert_eq!(did_you_mean("zzz", &["pii_mask"]), "");
    }
}
