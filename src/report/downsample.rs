//! Long series cut to a stated cap of points: runs of `k = ⌈n / cap⌉` consecutive points
//! become one, placed at the run's first x. Its value is the mean of the run's values
//! (counts, rates: the area under the curve is kept) or their maximum (peaks,
//! percentiles: a spike is never averaged away). Points without a value (a second in
//! which nothing completed has no percentile) are left out of their run; a run with no
//! value at all draws no point. The report states the cap and the stride in each
//! chart's caption and in its `data-cap` and `data-stride` attributes.

/// How a run of points becomes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agg {
    Mean,
    Max,
}

impl Agg {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Agg::Mean => "mean",
            Agg::Max => "maximum",
        }
    }
}

/// Points per run so that `n` points become at most `cap`.
pub fn stride(n: usize, cap: usize) -> usize {
    n.div_ceil(cap.max(1)).max(1)
}

/// `points` (x, value) cut to at most `cap` points by [`stride`]; unchanged (without its
/// missing values) when it is short enough.
pub fn downsample(points: &[(f64, Option<f64>)], cap: usize, agg: Agg) -> Vec<(f64, f64)> {
    let k = stride(points.len(), cap);
    points
        .chunks(k)
        .filter_map(|run| {
            let values = run.iter().filter_map(|p| p.1);
            let (n, sum, max) = values.fold((0usize, 0.0, f64::MIN), |(n, s, m), v| {
                (n + 1, s + v, m.max(v))
            });
            (n > 0).then(|| {
                let y = match agg {
                    Agg::Mean => sum / n as f64,
                    Agg::Max => max,
                };
                (run[0].0, y)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<(f64, Option<f64>)> {
        (0..n).map(|i| (i as f64, Some(i as f64))).collect()
    }

    #[test]
    fn short_series_are_kept_whole() {
        let s = series(1000);
        let d = downsample(&s, 1000, Agg::Mean);
        assert_eq!(d.len(), 1000);
        assert_eq!(d[999], (999.0, 999.0));
    }

    #[test]
    fn long_series_fit_the_cap_and_keep_mean_or_peak() {
        let s = series(3601);
        assert_eq!(stride(3601, 1000), 4);
        let mean = downsample(&s, 1000, Agg::Mean);
        assert_eq!(mean.len(), 901);
        // First run 0,1,2,3: mean 1.5 at x 0; the last run is the lone point 3600.
        assert_eq!(mean[0], (0.0, 1.5));
        assert_eq!(mean[900], (3600.0, 3600.0));
        let max = downsample(&s, 1000, Agg::Max);
        assert_eq!(max[0], (0.0, 3.0));
    }

    #[test]
    fn missing_values_are_left_out_of_their_run() {
        let s = vec![
            (0.0, None),
            (1.0, Some(4.0)),
            (2.0, None),
            (3.0, None),
            (4.0, Some(1.0)),
        ];
        // Stride 3: runs [None, 4, None] at x 0 and [None, 1] at x 3.
        assert_eq!(downsample(&s, 2, Agg::Mean), vec![(0.0, 4.0), (3.0, 1.0)]);
        assert_eq!(downsample(&s[..], 2, Agg::Max).len(), 2);
        let gaps = vec![(0.0, None), (1.0, None), (2.0, Some(2.0))];
        assert_eq!(downsample(&gaps, 1000, Agg::Mean), vec![(2.0, 2.0)]);
    }
}
