//! Thin wrappers over `statrs` and `libm` for the few distribution functions the crate needs.

/// The standard normal quantile Φ⁻¹(p): the `z` with `P(Z <= z) = p`.
///
/// Use it to turn a confidence level into a critical value: `normal_quantile(0.975)` is the
/// 1.96 of a two-sided 95% interval, `normal_quantile(0.95)` the 1.645 of a one-sided one.
/// Matches `scipy.stats.norm.ppf` to about 1e-15 relative. Returns `-inf` at 0, `+inf` at 1
/// and NaN outside `[0, 1]`.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * p)
}

/// The standard normal survival function `P(Z > z) = 1 - Φ(z)`, accurate in the far upper
/// tail (it is computed from `erfc`, not as `1 - cdf`). Matches `scipy.stats.norm.sf` to
/// about 1e-15 relative.
pub fn normal_sf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    if z == f64::INFINITY {
        return 0.0;
    }
    if z == f64::NEG_INFINITY {
        return 1.0;
    }
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The critical value `z` with `P(Z > z) = tail` (`scipy.stats.norm.isf(tail)`), computed
/// from the small tail so that it keeps full precision.
pub(crate) fn normal_isf(tail: f64) -> f64 {
    -normal_quantile(tail)
}

/// The quantile of the Beta(a, b) distribution at probability `p`
/// (`scipy.stats.beta.ppf(p, a, b)`).
pub(crate) fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    statrs::function::beta::inv_beta_reg(a, b, p)
}
