//! The challenges × goals catalog (seed 001): goal g of challenge c tracks one stat.

use crate::timeline::StatCode;

#[derive(Clone, Debug)]
pub struct Goal {
    pub challenge: u16,
    pub code: StatCode,
    pub target: u32,
    pub reward: u32,
}

#[derive(Clone, Debug)]
pub struct Catalog {
    pub challenges: u16,
    pub per_challenge: u16,
    pub goals: Vec<Goal>,
    /// Per stat code: (target, goal index) sorted by target, to find the goals a stat
    /// increase crosses with a binary search.
    pub(crate) by_stat: [Vec<(u32, u16)>; 3],
}

impl Catalog {
    pub fn new(challenges: u16, per_challenge: u16) -> Catalog {
        let mut goals = Vec::new();
        for c in 0..challenges {
            for j in 0..per_challenge {
                let code = StatCode::ALL[((c + j) % 3) as usize];
                let tier = (j / 3 + 1) as f64;
                let target = match code {
                    StatCode::EnemyKills => (15.0 * tier.powf(1.5)).round() as u32,
                    StatCode::LoginCount => (2.0 * tier) as u32,
                    StatCode::GamesPlayed => (2.0 * tier.powf(1.2)).round() as u32,
                };
                goals.push(Goal {
                    challenge: c,
                    code,
                    target,
                    reward: 10 * (j as u32 / 3 + 1),
                });
            }
        }
        let mut by_stat: [Vec<(u32, u16)>; 3] = Default::default();
        for (i, g) in goals.iter().enumerate() {
            by_stat[g.code as usize].push((g.target, i as u16));
        }
        for v in &mut by_stat {
            v.sort();
        }
        Catalog {
            challenges,
            per_challenge,
            goals,
            by_stat,
        }
    }

    pub(crate) fn words(&self) -> usize {
        self.goals.len().div_ceil(64)
    }

    /// Goals of `code` whose target lies in (old, new].
    pub(crate) fn crossed(
        &self,
        code: StatCode,
        old: u32,
        new: u32,
    ) -> impl Iterator<Item = u16> + '_ {
        let v = &self.by_stat[code as usize];
        let lo = v.partition_point(|(t, _)| *t <= old);
        let hi = v.partition_point(|(t, _)| *t <= new);
        v[lo..hi].iter().map(|(_, g)| *g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_is_ten_by_fifty() {
        let c = Catalog::new(10, 50);
        assert_eq!(c.goals.len(), 500);
        let crossed: Vec<u16> = c.crossed(StatCode::LoginCount, 0, 2).collect();
        assert!(!crossed.is_empty());
        assert!(
            crossed
                .iter()
                .all(|g| c.goals[*g as usize].code == StatCode::LoginCount
                    && c.goals[*g as usize].target <= 2)
        );
        assert_eq!(c.crossed(StatCode::LoginCount, 2, 2).count(), 0);
    }
}
