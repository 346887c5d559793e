//! Corrections for testing several hypotheses at once.
//!
//! An experiment that compares each of `m` configurations with the best one makes `m`
//! tests; at 5% each, the chance that at least one "difference" is luck grows towards
//! `1 - 0.95^m`. Holm's correction keeps that family-wise error rate at 5% and, unlike
//! Bonferroni's, loses little power doing so.

/// Holm's step-down adjusted p-values (Holm 1979, *Scand. J. Statist.* 6), in the order of
/// `p_values`.
///
/// With `p_(1) <= … <= p_(m)` sorted, `p̃_(i) = max_{j <= i} min(1, (m - j + 1)·p_(j))`:
/// monotone in the sorted order and capped at 1. Rejecting every hypothesis with
/// `p̃ <= α` controls the family-wise error rate at `α` under any dependence between the
/// tests. Equals `statsmodels.stats.multitest.multipletests(p_values,
/// method="holm")[1]`.
///
/// # Panics
/// If a p-value is NaN or outside [0, 1].
pub fn holm_adjust(p_values: &[f64]) -> Vec<f64> {
    for &p in p_values {
        assert!(
            (0.0..=1.0).contains(&p),
            "p-values must be in [0, 1], got {p}"
        );
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable: tied p-values get the same adjusted value whatever their order.
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        assert!(holm_adjust(&[]).is_empty());
        assert_eq!(holm_adjust(&[0.03]), vec![0.03]);
        // Sorted 0.01, 0.02, 0.04 -> 3·0.01, max(0.03, 2·0.02), max(0.04, 0.04).
        assert_eq!(holm_adjust(&[0.04, 0.01, 0.02]), vec![0.04, 0.03, 0.04]);
        // Monotone: 0.5 · 2 = 1 caps, then the larger p inherits the cap.
        assert_eq!(holm_adjust(&[0.5, 0.6]), vec![1.0, 1.0]);
    }

    #[test]
    #[should_panic(expected = "p-values must be in [0, 1]")]
    fn rejects_nan() {
        holm_adjust(&[0.1, f64::NAN]);
    }
}
