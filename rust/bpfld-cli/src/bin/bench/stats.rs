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
    fn units() {
        assert_eq!(time(1234.0), "1.2us");
        assert_eq!(time(12_345_678.0), "12.3ms");
        assert_eq!(bytes(2048.0), "2.0KiB");
        assert_eq!(ratio(Stats::of(&[3]), Stats::of(&[2])), "1.50x");
    }
}
