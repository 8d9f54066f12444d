//! Order statistics of measured samples.

/// The value at quantile `q` (0.0 ..= 1.0) of `samples`, which it sorts;
/// `None` when there are none.
pub fn quantile(samples: &mut [u64], q: f64) -> Option<u64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let index = ((samples.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    Some(samples[index])
}

/// The mean of the middle half of `samples` (which it sorts): as robust to
/// outliers as the median, but finer than the clock's step when the noise
/// spreads the samples over several steps. `None` when there are none.
pub fn interquartile_mean(samples: &mut [u64]) -> Option<f64> {
    samples.sort_unstable();
    let middle = &samples[samples.len() / 4..samples.len() - samples.len() / 4];
    if middle.is_empty() {
        return None;
    }
    Some(middle.iter().sum::<u64>() as f64 / middle.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::{interquartile_mean, quantile};

    #[test]
    fn interquartile_mean_ignores_the_outer_quarters() {
        let mut v = vec![1000, 10, 20, 20, 30, 30, 40, 0];
        assert_eq!(interquartile_mean(&mut v), Some(25.0));
        assert_eq!(interquartile_mean(&mut [7]), Some(7.0));
        assert_eq!(interquartile_mean(&mut []), None);
    }

    #[test]
    fn median_and_tails_of_unsorted_samples() {
        let mut v = vec![9, 1, 5, 3, 7];
        assert_eq!(quantile(&mut v, 0.5), Some(5));
        assert_eq!(quantile(&mut v, 0.0), Some(1));
        assert_eq!(quantile(&mut v, 1.0), Some(9));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
}
