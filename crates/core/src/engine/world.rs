//! What every shard reads but never writes: personas, curves, the catalog, outages.

use rand::distr::weighted::WeightedIndex;

use crate::catalog::Catalog;
use crate::diagnostic::Problem;
use crate::persona::Persona;
use crate::scenario::{PhaseKind, Scenario};
use crate::timeline::LineWriter;
use crate::units::{DAY, HOUR, weekday};

pub struct World {
    pub personas: Vec<Persona>,
    pub(crate) mix: WeightedIndex<f64>,
    pub scenario: Scenario,
    pub(crate) catalog: Catalog,
    /// Per persona: scenario hourly curve × persona preferred hours.
    pub(crate) hourly: Vec<[f64; 24]>,
    /// Per persona: the largest hourly × weekly intensity, for thinning.
    pub(crate) peak: Vec<f64>,
    /// Per persona: the mean hourly × weekly intensity over a week.
    pub(crate) mean: Vec<f64>,
    pub(crate) outages: Vec<(i64, i64)>,
    pub(crate) rooms: u32,
    pub(crate) writer: LineWriter,
    pub(crate) serialize: bool,
    /// The personas folder's `world.toml`: custom actions and counters.
    pub(crate) declared: std::sync::Arc<crate::persona::declared::Declared>,
}

impl World {
    pub fn new(
        personas: Vec<Persona>,
        scenario: Scenario,
        serialize: bool,
    ) -> Result<World, Problem> {
        let shares = scenario.shares(&personas);
        let mix = WeightedIndex::new(shares.iter().copied()).map_err(|e| {
            Problem::new(
                format!("unusable persona mix: {e}"),
                "give at least one persona a share above 0 (personas' `share`, or the scenario's mix)",
            )
        })?;
        let max_week = scenario.weekly.iter().cloned().fold(0.0, f64::max);
        let hourly: Vec<[f64; 24]> = personas
            .iter()
            .map(|p| {
                let mut h = [0.0; 24];
                for (i, w) in h.iter_mut().enumerate() {
                    *w = scenario.hourly[i] * p.preferred_hours[i];
                }
                h
            })
            .collect();
        let peak = hourly
            .iter()
            .map(|h| h.iter().cloned().fold(0.0, f64::max) * max_week)
            .collect();
        let week_mean = scenario.weekly.iter().sum::<f64>() / 7.0;
        let mean = hourly
            .iter()
            .map(|h| h.iter().sum::<f64>() / 24.0 * week_mean)
            .collect();
        let outages = scenario
            .phases
            .iter()
            .filter(|p| matches!(p.kind, PhaseKind::Outage))
            .map(|p| (p.at_ms, p.at_ms + p.over_ms))
            .collect();
        let rooms = (scenario.users / scenario.room_size).max(1);
        Ok(World {
            writer: LineWriter::new(scenario.start_ms, &personas)
                .with_team(scenario.seed, &scenario.pools)
                .with_catalog(&scenario.catalog)
                .with_attributes(&personas),
            declared: personas
                .first()
                .map(|p| p.declared.clone())
                .unwrap_or_default(),
            catalog: scenario.catalog.clone(),
            personas,
            mix,
            hourly,
            peak,
            mean,
            outages,
            rooms,
            scenario,
            serialize,
        })
    }

    /// Relative activity of a persona at simulated time `t` (hour of day × day of week).
    #[inline]
    pub(crate) fn intensity(&self, persona: u16, t: i64) -> f64 {
        let abs = self.scenario.start_ms + t;
        let hour = (abs.rem_euclid(DAY) / HOUR) as usize;
        self.hourly[persona as usize][hour] * self.scenario.weekly[weekday(abs)]
    }

    /// The instant after `t` by which `activity_ms` of activity time has passed: each
    /// hour counts as its intensity over the persona's weekly mean.
    pub(crate) fn warp(&self, persona: u16, t: i64, activity_ms: f64) -> i64 {
        let mean = self.mean[persona as usize];
        let mut left = activity_ms.max(0.0);
        let mut now = t;
        // Bounded: a year of hours covers any gap a persona can draw with a live curve.
        for _ in 0..24 * 366 {
            let rate = self.intensity(persona, now) / mean;
            let hour_end = now - (self.scenario.start_ms + now).rem_euclid(HOUR) + HOUR;
            let span = (hour_end - now) as f64;
            if rate * span >= left {
                return now + (left / rate).ceil() as i64;
            }
            left -= rate * span;
            now = hour_end;
        }
        now
    }

    /// The end of the outage covering `t`, if any.
    pub(crate) fn outage_end(&self, t: i64) -> Option<i64> {
        self.outages
            .iter()
            .find(|(a, b)| t >= *a && t < *b)
            .map(|(_, b)| *b)
    }
}
