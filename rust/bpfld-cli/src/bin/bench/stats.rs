// SPDX-License-Identifier: GPL-2.0-only

//! Order statistics of samples and their text: medians with their spread, ratios,
//! aligned tables.

/// Order statistics of a set of samples (nanoseconds or bytes).
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub min: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Stats {
    /// The statistics of `samples` (percentiles interpolated linearly), or `None` if
    /// there are none.
    pub fn of(samples: &[u64]) -> Option<Stats> {
        let mut v: Vec<f64> = samples.iter().map(|&s| s as f64).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let pos = p * (v.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        };
        Some(Stats {
            min: v[0],
            p10: q(0.1),
            median: q(0.5),
            p90: q(0.9),
            max: v[v.len() - 1],
        })
    }
}

/// The statistics of one figure `f` of each sample in `v`.
pub fn col<T>(v: &[T], f: impl Fn(&T) -> u64) -> Option<Stats> {
    Stats::of(&v.iter().map(f).collect::<Vec<_>>())
}

/// A duration in nanoseconds with a unit that keeps three or four digits.
pub fn time(ns: f64) -> String {
    if ns >= 10e9 {
        format!("{:.1}s", ns / 1e9)
    } else if ns >= 1e9 {
        format!("{:.2}s", ns / 1e9)
    } else if ns >= 10e6 {
        format!("{:.1}ms", ns / 1e6)
    } else if ns >= 1e6 {
        format!("{:.2}ms", ns / 1e6)
    } else if ns >= 10e3 {
        format!("{:.0}us", ns / 1e3)
    } else {
        format!("{:.1}us", ns / 1e3)
    }
}

/// A byte count in KiB or MiB.
pub fn bytes(b: f64) -> String {
    if b >= 10.0 * 1024.0 * 1024.0 {
        format!("{:.1}MiB", b / 1048576.0)
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}MiB", b / 1048576.0)
    } else if b >= 10.0 * 1024.0 {
        format!("{:.0}KiB", b / 1024.0)
    } else {
        format!("{:.1}KiB", b / 1024.0)
    }
}

/// `median [p10..p90]` of durations.
pub fn time_cell(s: Option<Stats>) -> String {
    match s {
        Some(s) => format!("{} [{}..{}]", time(s.median), time(s.p10), time(s.p90)),
        None => "-".into(),
    }
}

/// `median [min..max]` of byte counts.
pub fn bytes_cell(s: Option<Stats>) -> String {
    match s {
        Some(s) if s.min == s.max => bytes(s.median),
        Some(s) => format!("{} [{}..{}]", bytes(s.median), bytes(s.min), bytes(s.max)),
        None => "-".into(),
    }
}

/// `a / b` of medians, e.g. `2.31x`.
pub fn ratio(a: Option<Stats>, b: Option<Stats>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b.median > 0.0 => {
            let r = a.median / b.median;
            if r < 0.1 {
                format!("{r:.3}x")
            } else {
                format!("{r:.2}x")
            }
        }
        _ => "-".into(),
    }
}

/// A 95% interval, (low, high).
pub type Interval = (f64, f64);

/// Resamples drawn by [`median_ratio_interval`] and [`median_interval`].
const RESAMPLES: usize = 2000;

/// splitmix64: the resampling's generator, seeded per call so that a report is the
/// same for the same samples.
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n as u64) as usize
    }
}

/// The median of `v`, sorting it.
fn median_sorting(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let k = v.len();
    match k {
        0 => f64::NAN,
        _ if k % 2 == 1 => v[k / 2],
        _ => (v[k / 2 - 1] + v[k / 2]) / 2.0,
    }
}

/// The median of `v`, or `None` if it is empty.
pub fn median(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| median_sorting(&mut v.to_vec()))
}

/// The median of `v.len()` draws (with replacement) from `v`, drawn into `buf`.
fn resampled_median(v: &[f64], m: &mut Mix, buf: &mut Vec<f64>) -> f64 {
    buf.clear();
    buf.extend((0..v.len()).map(|_| v[m.below(v.len())]));
    median_sorting(buf)
}

/// The 2.5th and 97.5th percentiles of `stat` over [`RESAMPLES`] values.
fn interval(mut stat: impl FnMut() -> f64) -> Interval {
    let mut r: Vec<f64> = (0..RESAMPLES).map(|_| stat()).collect();
    r.sort_by(f64::total_cmp);
    let at = |p: f64| r[((RESAMPLES - 1) as f64 * p).round() as usize];
    (at(0.025), at(0.975))
}

/// A 95% interval of `median(a) / median(b)` by the percentile bootstrap (each side
/// resampled on its own, as its runs are), or `None` without samples on either side.
/// An interval that holds 1.0 says the two medians are not told apart by these runs.
pub fn median_ratio_interval(a: &[u64], b: &[u64]) -> Option<Interval> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let b: Vec<f64> = b.iter().map(|&x| x as f64).collect();
    let mut m = Mix((a.len() as u64) << 32 | b.len() as u64);
    let (mut ba, mut bb) = (Vec::new(), Vec::new());
    let (lo, hi) = interval(|| {
        let ma = resampled_median(&a, &mut m, &mut ba);
        let mb = resampled_median(&b, &mut m, &mut bb);
        if mb > 0.0 {
            ma / mb
        } else {
            f64::INFINITY
        }
    });
    Some((lo, hi))
}

/// A 95% interval of the median of `v` by the percentile bootstrap.
pub fn median_interval(v: &[f64]) -> Option<Interval> {
    if v.is_empty() {
        return None;
    }
    let mut m = Mix(v.len() as u64);
    let mut buf = Vec::new();
    Some(interval(|| resampled_median(v, &mut m, &mut buf)))
}

/// Which loader a ratio `libbpf / bpfld` with its 95% interval favours: `level` when
/// the interval holds 1.0.
pub fn verdict(ci: Option<Interval>) -> &'static str {
    match ci {
        Some((lo, _)) if lo > 1.0 => "bpfld faster",
        Some((_, hi)) if hi < 1.0 => "bpfld slower",
        Some(_) => "level",
        None => "-",
    }
}

/// Each load's share of its time spent outside the kernel's commands, from
/// `(total, inside the commands)` pairs; loads without a time are left out.
pub fn overhead_shares(loads: impl Iterator<Item = (u64, u64)>) -> Vec<f64> {
    loads
        .filter(|&(total, _)| total > 0)
        .map(|(total, inside)| total.saturating_sub(inside) as f64 / total as f64)
        .collect()
}

/// Issue #6's overhead target for a share whose 95% interval is `lo..hi`: `met` when
/// the whole interval is under 10%, `not met` when none of it is, else `undecided`.
pub fn under_10_percent(lo: f64, hi: f64) -> &'static str {
    if hi < 0.10 {
        "met"
    } else if lo >= 0.10 {
        "not met"
    } else {
        "undecided"
    }
}

/// `[lo..hi]` of ratios.
pub fn ratio_interval_cell(ci: Option<Interval>) -> String {
    match ci {
        Some((lo, hi)) => format!("[{lo:.2}..{hi:.2}]"),
        None => "-".into(),
    }
}

/// An aligned text table.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut w: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
        }
        let line = |f: &mut std::fmt::Formatter<'_>, cells: &[String]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = w
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                // The first column (a name) is left-aligned, figures right-aligned.
                if i == 0 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str("  ");
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
            writeln!(f, "  {}", s.trim_end())
        };
        line(f, &self.head)?;
        let rule: Vec<String> = w.iter().map(|&n| "-".repeat(n)).collect();
        line(f, &rule)?;
        for r in &self.rows {
            line(f, r)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate() {
        let s = Stats::of(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).unwrap();
        assert_eq!(
            (s.min, s.p10, s.median, s.p90, s.max),
            (1.0, 2.0, 6.0, 10.0, 11.0)
        );
        let s = Stats::of(&[4, 1]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn shares_and_the_10_percent_target() {
        assert_eq!(
            overhead_shares([(100, 90), (0, 0), (50, 60)].into_iter()),
            vec![0.1, 0.0]
        );
        assert_eq!(under_10_percent(0.05, 0.099), "met");
        assert_eq!(under_10_percent(0.10, 0.12), "not met");
        assert_eq!(under_10_percent(0.09, 0.11), "undecided");
    }

    #[test]
    fn units() {
        assert_eq!(time(1234.0), "1.2us");
        assert_eq!(time(12_345_678.0), "12.3ms");
        assert_eq!(bytes(2048.0), "2.0KiB");
        assert_eq!(ratio(Stats::of(&[3]), Stats::of(&[2])), "1.50x");
    }

    #[test]
    fn intervals() {
        // Two samples far apart: the interval of the ratio excludes 1.0 on the right
        // side, and holds the ratio of the medians.
        let a: Vec<u64> = (0..30).map(|i| 200 + i).collect();
        let b: Vec<u64> = (0..30).map(|i| 100 + i).collect();
        let (lo, hi) = median_ratio_interval(&a, &b).unwrap();
        let r = Stats::of(&a).unwrap().median / Stats::of(&b).unwrap().median;
        assert!(lo > 1.0 && lo <= r && r <= hi, "{lo} {r} {hi}");
        assert_eq!(verdict(Some((lo, hi))), "bpfld faster");
        assert_eq!(verdict(median_ratio_interval(&b, &a)), "bpfld slower");
        // The same sample on both sides: level, and the interval is not a point.
        let ci = median_ratio_interval(&a, &a).unwrap();
        assert!(ci.0 < 1.0 && ci.1 > 1.0, "{ci:?}");
        assert_eq!(verdict(Some(ci)), "level");
        // The same samples give the same interval.
        assert_eq!(median_ratio_interval(&a, &b), median_ratio_interval(&a, &b));
        assert!(median_ratio_interval(&[], &b).is_none());
        let (lo, hi) = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!(
            (1.0..=3.0).contains(&lo) && (3.0..=5.0).contains(&hi),
            "{lo} {hi}"
        );
        assert_eq!(median_interval(&[7.0]), Some((7.0, 7.0)));
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(ratio_interval_cell(Some((0.9, 1.1))), "[0.90..1.10]");
    }
}
