//! `--shard K/N`: which files this machine of a CI matrix runs.
//!
//! Files with a recorded duration are balanced greedily (longest first onto the least loaded
//! shard); files without one (new since the durations were recorded) are placed by a hash of
//! their path. So the plan is the same on every machine, and adding a file never moves others.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based, as users write it.
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("invalid shard {s:?}: write K/N with 1 <= K <= N, e.g. --shard 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Whether each of `files` (id paths) belongs to `shard`.
pub fn shard_files(files: &[String], shard: Shard, durations: &HashMap<String, f64>) -> Vec<bool> {
    let n = shard.count as usize;
    let mut assigned = vec![0usize; files.len()];
    let mut known: Vec<(usize, f64)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| durations.get(f).map(|d| (i, *d)))
        .collect();
    known.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| files[a.0].cmp(&files[b.0]))
    });
    let mut load = vec![0.0f64; n];
    for (i, d) in known {
        let lightest = (0..n)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
            .unwrap_or(0);
        load[lightest] += d;
        assigned[i] = lightest;
    }
    for (i, f) in files.iter().enumerate() {
        if !durations.contains_key(f) {
            assigned[i] = (fnv1a(f) % n as u64) as usize;
        }
    }
    assigned
        .into_iter()
        .map(|s| s == shard.index as usize - 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tests/test_{i}.py")).collect()
    }

    #[test]
    fn every_file_is_in_exactly_one_shard() {
        let f = files(50);
        let plans: Vec<Vec<bool>> = (1..=4)
            .map(|k| shard_files(&f, Shard { index: k, count: 4 }, &HashMap::new()))
            .collect();
        for i in 0..f.len() {
            assert_eq!(plans.iter().filter(|p| p[i]).count(), 1);
        }
        assert!(
            plans.iter().all(|p| p.iter().filter(|x| **x).count() > 5),
            "roughly balanced by count"
        );
    }

    #[test]
    fn adding_a_file_moves_no_other() {
        let f = files(30);
        let mut more = f.clone();
        more.push("tests/test_new.py".into());
        for k in 1..=3 {
            let s = Shard { index: k, count: 3 };
            assert_eq!(
                shard_files(&f, s, &HashMap::new())[..],
                shard_files(&more, s, &HashMap::new())[..30]
            );
        }
    }

    #[test]
    fn recorded_durations_balance_the_shards() {
        let f = files(4);
        let d: HashMap<String, f64> = [(0, 10.0), (1, 6.0), (2, 4.0), (3, 1.0)]
            .into_iter()
            .map(|(i, s)| (f[i].clone(), s))
            .collect();
        let one = shard_files(&f, Shard { index: 1, count: 2 }, &d);
        let two = shard_files(&f, Shard { index: 2, count: 2 }, &d);
        let total = |p: &[bool]| {
            p.iter()
                .zip(&f)
                .filter(|(x, _)| **x)
                .map(|(_, n)| d[n])
                .sum::<f64>()
        };
        assert_eq!(total(&one), 11.0);
        assert_eq!(total(&two), 10.0);
    }

    #[test]
    fn bad_shards_say_how_to_write_one() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["0/4", "5/4", "x", "1/0", "a/b"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
    }
}
