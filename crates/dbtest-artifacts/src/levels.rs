//! Security levels (DESIGN §9): how sensitive an experiment's data is, and how sensitive the
//! data a sink is cleared to hold. Data never goes to a sink cleared below it (no write-down).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The levels, lowest first; the order is the derive's, so `<` means "less protected".
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityLevel {
    /// What a design without `security_level` holds: nothing has marked the data as sensitive.
    #[default]
    Unofficial,
    Official,
    OfficialSensitive,
    Protected,
    Secret,
}

impl SecurityLevel {
    pub const ALL: [SecurityLevel; 5] = [
        SecurityLevel::Unofficial,
        SecurityLevel::Official,
        SecurityLevel::OfficialSensitive,
        SecurityLevel::Protected,
        SecurityLevel::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecurityLevel::Unofficial => "unofficial",
            SecurityLevel::Official => "official",
            SecurityLevel::OfficialSensitive => "official-sensitive",
            SecurityLevel::Protected => "protected",
            SecurityLevel::Secret => "secret",
        }
    }

    /// The level of the data an experiment gathers: its own, raised by its dataset's.
    pub fn of_data(experiment: SecurityLevel, dataset: Option<SecurityLevel>) -> SecurityLevel {
        dataset.map_or(experiment, |d| d.max(experiment))
    }
}

impl fmt::Display for SecurityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a level; the message lists the levels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown security level {given:?}{hint}; the levels, lowest first: {}",
    levels_text()
)]
pub struct LevelError {
    pub given: String,
    hint: String,
}

fn levels_text() -> String {
    SecurityLevel::ALL.map(SecurityLevel::as_str).join(", ")
}

impl FromStr for SecurityLevel {
    type Err = LevelError;

    /// Case does not matter: markings are often written in capitals (`OFFICIAL-SENSITIVE`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(level) = SecurityLevel::ALL.into_iter().find(|l| l.as_str() == lower) {
            return Ok(level);
        }
        let names = SecurityLevel::ALL.map(SecurityLevel::as_str);
        Err(LevelError {
            given: s.to_string(),
            hint: dbtest_core::suggest::did_you_mean(&lower.replace(['_', ' '], "-"), &names),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SecurityLevel::*;

    #[test]
    fn levels_are_ordered_lowest_first() {
        assert!(Unofficial < Official && Official < OfficialSensitive);
        assert!(OfficialSensitive < Protected && Protected < Secret);
        let mut shuffled = [Secret, Unofficial, Protected, Official, OfficialSensitive];
        shuffled.sort();
        assert_eq!(shuffled, SecurityLevel::ALL);
    }

    #[test]
    fn parsing_and_its_errors() {
        for level in SecurityLevel::ALL {
            assert_eq!(level.as_str().parse::<SecurityLevel>(), Ok(level));
            assert_eq!(level.to_string(), level.as_str());
        }
        assert_eq!("OFFICIAL-SENSITIVE".parse(), Ok(OfficialSensitive));
        let err = "official_sensitive".parse::<SecurityLevel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown security level \"official_sensitive\" (did you mean `official-sensitive`?); \
             the levels, lowest first: unofficial, official, official-sensitive, protected, secret"
        );
        let err = "top-secret-ish".parse::<SecurityLevel>().unwrap_err();
        assert!(!err.to_string().contains("did you mean"), "{err}");
    }

    #[test]
    fn the_data_takes_the_higher_level() {
        assert_eq!(SecurityLevel::of_data(Official, None), Official);
        assert_eq!(SecurityLevel::of_data(Official, Some(Secret)), Secret);
        assert_eq!(
            SecurityLevel::of_data(Protected, Some(Unofficial)),
            Protected
        );
    }

    #[test]
    fn serde_uses_the_level_names() {
        assert_eq!(
            serde_json::to_string(&OfficialSensitive).unwrap(),
            "\"official-sensitive\""
        );
        let back: SecurityLevel = serde_json::from_str("\"protected\"").unwrap();
        assert_eq!(back, Protected);
    }
}
