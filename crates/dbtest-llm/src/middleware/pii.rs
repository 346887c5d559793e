//! `pii_mask`: personal data replaced by a placeholder before a request leaves.
//!
//! Patterns find candidates and checksums confirm them where a checksum exists, so that
//! order numbers are not taken for cards: a card is a 13–19 digit run that passes Luhn,
//! an IBAN passes ISO 7064 mod-97. Kinds run in a fixed order (email, IBAN, card, IP,
//! phone) whatever order the design lists them in, because the looser patterns (phone)
//! would otherwise eat the digits of the stricter ones.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::LazyLock;

use futures::future::BoxFuture;
use regex::Regex;

use super::{Abort, CallContext, Middleware};
use crate::call::{CallNotes, ChatRequest};
use crate::models::did_you_mean;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    Email,
    Iban,
    Card,
    Ip,
    Phone,
}

impl PiiKind {
    /// Every kind, in the order they are applied.
    pub const ALL: [PiiKind; 5] = [
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ip,
        PiiKind::Phone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Iban => "iban",
            PiiKind::Card => "card",
            PiiKind::Ip => "ip",
            PiiKind::Phone => "phone",
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Email => "[EMAIL]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Card => "[CARD]",
            PiiKind::Ip => "[IP]",
            PiiKind::Phone => "[PHONE]",
        }
    }
}

impl FromStr for PiiKind {
    type Err = String;
    fn from_str(s: &str) -> Result<PiiKind, String> {
        PiiKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = PiiKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown kind `{s}`{} ({})",
                    did_you_mean(s, &names),
                    names.join(", ")
                )
            })
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").expect("valid")
});
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b").expect("valid"));
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("valid"));
static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b",
    )
    .expect("valid")
});
/// Full and `::`-compressed IPv6 forms starting with a group; confirmed by `Ipv6Addr`.
static IPV6: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b").expect("valid"));
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+|\(|\b)[\d(][\d ().-]{6,}\d\b").expect("valid"));

/// Masks `text` for `kinds`, adding the count of each kind replaced to `counts`.
pub fn mask(text: &str, kinds: &[PiiKind], counts: &mut BTreeMap<String, u64>) -> String {
    let mut out = text.to_owned();
    for kind in PiiKind::ALL.into_iter().filter(|k| kinds.contains(k)) {
        let mut n = 0;
        out = match kind {
            PiiKind::Email => replace(&EMAIL, &out, kind, &mut n, |_| true),
            PiiKind::Iban => replace(&IBAN, &out, kind, &mut n, iban_valid),
            PiiKind::Card => replace(&CARD, &out, kind, &mut n, |s| luhn_valid(&digits(s))),
            PiiKind::Ip => {
                let v4 = replace(&IPV4, &out, kind, &mut n, |_| true);
                replace(&IPV6, &v4, kind, &mut n, |s| Ipv6Addr::from_str(s).is_ok())
            }
            PiiKind::Phone => replace(&PHONE, &out, kind, &mut n, phone_like),
        };
        if n > 0 {
            *counts.entry(kind.name().to_owned()).or_default() += n;
        }
    }
    out
}

fn replace(
    re: &Regex,
    text: &str,
    kind: PiiKind,
    n: &mut u64,
    valid: impl Fn(&str) -> bool,
) -> String {
    re.replace_all(text, |caps: &regex::Captures<'_>| {
        let found = &caps[0];
        if valid(found) {
            *n += 1;
            kind.placeholder().to_owned()
        } else {
            found.to_owned()
        }
    })
    .into_owned()
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// Luhn's check digit test, as card numbers carry it.
pub fn luhn_valid(digits: &[u32]) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 = 1.
pub fn iban_valid(candidate: &str) -> bool {
    let compact: Vec<char> = candidate.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let mut rem: u32 = 0;
    for c in compact[4..].iter().chain(&compact[..4]) {
        let value = match c.to_digit(36) {
            Some(v) => v,
            None => return false,
        };
        rem = if value < 10 {
            (rem * 10 + value) % 97
        } else {
            (rem * 100 + value) % 97
        };
    }
    rem == 1
}

/// 9–15 digits, written as a phone number is (a leading `+`, a separator or brackets);
/// a bare run of digits is more often an id than a phone number, and a date has 8.
fn phone_like(s: &str) -> bool {
    let n = digits(s).len();
    (9..=15).contains(&n) && (s.starts_with('+') || s.contains([' ', '-', '.', '(']))
}

/// The `pii_mask` middleware.
#[derive(Debug, Clone)]
pub struct PiiMask {
    kinds: Vec<PiiKind>,
}

impl PiiMask {
    pub fn new(kinds: &[PiiKind]) -> PiiMask {
        PiiMask {
            kinds: kinds.to_vec(),
        }
    }
}

impl Middleware for PiiMask {
    fn before_request<'a>(
        &'a self,
        _: &'a CallContext,
        request: &'a mut ChatRequest,
        notes: &'a mut CallNotes,
    ) -> BoxFuture<'a, Result<(), Abort>> {
        for message in &mut request.messages {
            message.content = mask(&message.content, &self.kinds, &mut notes.pii_masked);
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(text: &str) -> (String, BTreeMap<String, u64>) {
        let mut counts = BTreeMap::new();
        (mask(text, &PiiKind::ALL, &mut counts), counts)
    }

    #[test]
    fn each_kind_is_replaced_and_counted() {
        let (text, counts) = masked(
            "Mail jane.doe+x@example.co.uk or bob@corp.io, call +44 20 7946 0958, \
             card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, from 192.168.1.20 or 2001:db8::8a2e:370:7334.",
        );
        assert_eq!(
            text,
            "Mail [EMAIL] or [EMAIL], call [PHONE], card [CARD], IBAN [IBAN], from [IP] or [IP]."
        );
        let expected: BTreeMap<String, u64> = [
            ("email", 2),
            ("phone", 1),
            ("card", 1),
            ("iban", 1),
            ("ip", 2),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
        assert_eq!(counts, expected);
    }

    #[test]
    fn checksums_keep_lookalikes() {
        let (text, counts) = masked("order 4111 1111 1111 1112 and DE89 3704 0044 0532 0130 02");
        assert_eq!(counts.get("card"), None, "fails Luhn");
        assert_eq!(counts.get("iban"), None, "fails mod-97");
        assert!(text.contains("4111 1111 1111 1112"));
        let (text, _) = masked("version 1.2.3 on 2024-10-21 at 12:30:45, id 123456789, 999.1.1.1");
        assert_eq!(
            text,
            "version 1.2.3 on 2024-10-21 at 12:30:45, id 123456789, 999.1.1.1"
        );
    }

    #[test]
    fn only_the_chosen_kinds() {
        let mut counts = BTreeMap::new();
        let text = mask("a@b.com 10.0.0.1", &[PiiKind::Ip], &mut counts);
        assert_eq!(text, "a@b.com [IP]");
        assert_eq!(counts.len(), 1);
    }

    #[test]
    fn luhn_and_iban() {
        assert!(luhn_valid(&digits("4539 1488 0343 6467")));
        assert!(!luhn_valid(&digits("1234")));
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(iban_valid("FR1420041010050500013M02606"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 33"));
    }

    #[test]
    fn phone_shapes() {
        for p in [
            "(555) 123-4567",
            "+1 555 123 4567",
            "030-1234-5678",
            "+491701234567",
        ] {
            assert_eq!(
                masked(&format!("call {p} now")).0,
                "call [PHONE] now",
                "{p}"
            );
        }
    }
}
