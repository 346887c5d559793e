//! What a call costs: usage times the model's price (USD per million tokens).
//!
//! A model without a price has an unknown cost, never a cost of zero: a budget counted
//! with zeros would pass while money is spent. So a cost budget over an unpriced model is
//! refused before any call ([`cost_budget_needs_prices`]).

use crate::call::Usage;
use crate::models::Price;

/// The cost of `usage`, or `None` when the model is unpriced.
pub fn cost_usd(usage: Usage, price: Option<&Price>) -> Option<f64> {
    let price = price?;
    Some(
        (usage.input_tokens as f64 * price.input_per_mtok
            + usage.output_tokens as f64 * price.output_per_mtok)
            / 1_000_000.0,
    )
}

/// A cost budget over models whose cost cannot be known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a cost budget needs a price for every model it covers; no `price` for: {}",
    models.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
)]
pub struct UnpricedModels {
    pub models: Vec<String>,
}

/// Checks that every model a cost budget covers has a price; give it each used model's
/// name and price (`spec.price.as_ref()`).
pub fn cost_budget_needs_prices<'a>(
    models: impl IntoIterator<Item = (&'a str, Option<&'a Price>)>,
) -> Result<(), UnpricedModels> {
    let mut unpriced: Vec<String> = models
        .into_iter()
        .filter(|(_, price)| price.is_none())
        .map(|(name, _)| name.to_owned())
        .collect();
    unpriced.sort();
    unpriced.dedup();
    if unpriced.is_empty() {
        Ok(())
    } else {
        Err(UnpricedModels { models: unpriced })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRICE: Price = Price {
        input_per_mtok: 0.15,
        output_per_mtok: 0.60,
    };

    #[test]
    fn usage_times_price_per_million() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
        };
        assert!((cost_usd(usage, Some(&PRICE)).unwrap() - 0.45).abs() < 1e-12);
        let small = Usage {
            input_tokens: 100,
            output_tokens: 10,
        };
        assert!((cost_usd(small, Some(&PRICE)).unwrap() - 0.000021).abs() < 1e-15);
        assert_eq!(cost_usd(usage, None), None);
    }

    #[test]
    fn a_budget_over_unpriced_models_names_them() {
        assert!(cost_budget_needs_prices([("small", Some(&PRICE))]).is_ok());
        let err = cost_budget_needs_prices([
            ("small", Some(&PRICE)),
            ("local", None),
            ("big", None),
            ("local", None),
        ])
        .unwrap_err();
        assert_eq!(err.models, ["big", "local"]);
        assert_eq!(
            err.to_string(),
            "a cost budget needs a price for every model it covers; no `price` for: `big`, `local`"
        );
    }
}
