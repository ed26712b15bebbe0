//! The discrete-event engine: users on a millisecond clock, in shards that meet only at
//! epoch boundaries, so the timeline is the same for any number of threads.
//!
//! Each epoch (one simulated minute) runs in four steps:
//! 1. deliver what crossed between users in the previous epoch (gift broadcasts, won
//!    claims, invitees) and what the scenario's phases impose;
//! 2. every shard runs its users up to the epoch's end, in parallel;
//! 3. gift races are resolved by (time, user id), whatever shard the claimers were in;
//! 4. the shards' sorted outputs are merged by (time, user id, seq) into the sinks.
//!
//! Pure: no I/O, no tokio, no wall clock. Sinks do the writing.

pub mod agent;
pub(crate) mod custom;
pub mod queue;
pub mod rng;
pub mod shard;
pub mod user;
pub mod world;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::scenario::PhaseKind;
use crate::timeline::{ClaimOutcome, GiftId, SignupSource, Sink};
use crate::units::MINUTE;
use agent::Out;
use rng::{Purpose, exp, stream, unit};
use shard::Shard;
use user::Script;
pub use world::World;

/// Attributes a persona may have: each user keeps them inline.
pub const MAX_ATTRIBUTES: usize = 8;

/// Events handed from the simulating threads to the writer at once.
const GROUP_EVENTS: usize = 16_384;

/// Users meet at this granularity: a gift created in one epoch is broadcast at the next.
pub(crate) const EPOCH_MS: i64 = MINUTE;

struct Gift {
    remaining: u16,
    shares: u16,
    expires: i64,
}

/// Counts the engine reports when a run ends.
#[derive(Clone, Debug, Default)]
pub struct RunTotals {
    pub events: u64,
    pub users_created: u64,
    pub signed_up: u64,
    pub invitees: u64,
    pub gifts: u64,
    pub claim_attempts: u64,
    pub simulated_ms: i64,
    pub interrupted: bool,
}

pub struct Engine {
    pub world: Arc<World>,
    shards: Vec<Shard>,
    pool: Option<rayon::ThreadPool>,
    pipeline: bool,
    gifts: BTreeMap<GiftId, Gift>,
    /// Gifts in expiry order (creation order: every gift lives the same time).
    expiry: VecDeque<(i64, GiftId)>,
    broadcasts: Vec<(i64, GiftId, u32, i64)>,
    wins: Vec<u32>,
    invites: Vec<(i64, u32, u32)>,
    next_id: u32,
    /// Organic sign-up times not yet given a user.
    organic: VecDeque<i64>,
    pub(crate) totals: RunTotals,
}

impl Engine {
    /// Builds the world's users: `users` at t = 0 (ids 0..N). Later arrivals (organic
    /// sign-ups, invitees) get ids N.. as they arrive, epoch by epoch, so the first D days
    /// are the same events whatever `--days` is: a replay of day 31 continues the world a
    /// 30-day seed loaded.
    pub fn new(world: World, threads: usize) -> Engine {
        let threads = threads.max(1);
        // With two or more threads one of them writes (merge, checksum, sinks) while the
        // others simulate the next epoch; the shard count never changes the output.
        let pipeline = threads >= 2;
        let shards_n = if pipeline { threads as u32 - 1 } else { 1 };
        let n = world.scenario.users;
        let signups = organic_signups(&world);
        // Room for everyone known now plus a few percent of invitees, without doubling slack.
        let expected = (n as usize + signups.len()) * 21 / 20 / shards_n as usize + 16;
        let mut shards: Vec<Shard> = (0..shards_n)
            .map(|_| Shard::new(shards_n, world.rooms, expected))
            .collect();
        // Users the team's system already holds (a users file) sign up at t = 0.
        let existing = world.scenario.pools.existing_users();
        for id in 0..n {
            let at = ((id as usize) < existing).then_some(0);
            shards[(id % shards_n) as usize].add_user(&world, id, at, SignupSource::Launch, None);
        }
        let next_id = n;
        let pool = (shards_n > 1)
            .then(|| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(shards_n as usize)
                    .build()
                    .ok()
            })
            .flatten();
        let totals = RunTotals {
            users_created: next_id as u64,
            ..Default::default()
        };
        Engine {
            world: Arc::new(world),
            shards,
            pool,
            pipeline,
            gifts: BTreeMap::new(),
            expiry: VecDeque::new(),
            broadcasts: Vec::new(),
            wins: Vec::new(),
            invites: Vec::new(),
            organic: signups.into(),
            next_id,
            totals,
        }
    }

    fn shard_of(&mut self, id: u32) -> &mut Shard {
        let n = self.shards.len() as u32;
        &mut self.shards[(id % n) as usize]
    }

    /// Runs the whole window into `sink`, stopping early when `stop` is set.
    pub fn run(
        &mut self,
        sink: &mut (dyn Sink + Send),
        stop: &AtomicBool,
    ) -> std::io::Result<RunTotals> {
        if !self.pipeline {
            let mut events = 0;
            let result = self.simulate(stop, |batch, t1| {
                let (n, go) = merge(&batch, sink)?;
                events += n;
                sink.tick(t1)?;
                Ok((go, Some(batch)))
            });
            self.totals.events = events;
            result?;
            sink.finish()?;
            return Ok(self.finish_totals());
        }
        // Epochs travel in groups of a few thousand events: one hand-over per epoch (a
        // simulated minute) made the two threads spend their time waking each other.
        let (tx, rx) = mpsc::sync_channel::<Vec<(Vec<Out>, i64)>>(2);
        let (back_tx, back_rx) = mpsc::channel::<Vec<Out>>();
        let halted = AtomicBool::new(false);
        let (sim, written) = std::thread::scope(|scope| -> std::io::Result<_> {
            let halted = &halted;
            let writer = std::thread::Builder::new()
                .name("writer".into())
                .spawn_scoped(scope, move || -> std::io::Result<u64> {
                    let mut events = 0;
                    for group in rx {
                        for (batch, t1) in group {
                            let (n, go) = merge(&batch, sink)?;
                            events += n;
                            sink.tick(t1)?;
                            if !go {
                                halted.store(true, Ordering::Relaxed);
                            }
                            let _ = back_tx.send(batch);
                        }
                    }
                    sink.finish()?;
                    Ok(events)
                })?;
            let mut group = Vec::new();
            let mut pending = 0;
            let sim = self.simulate(stop, |batch, t1| {
                if halted.load(Ordering::Relaxed) {
                    return Ok((false, None));
                }
                pending += batch.iter().map(|o| o.events.len()).sum::<usize>();
                group.push((batch, t1));
                let mut sent = true;
                if pending >= GROUP_EVENTS {
                    // A closed channel means the writer failed; its error is reported below.
                    sent = tx.send(std::mem::take(&mut group)).is_ok();
                    pending = 0;
                }
                // Take one emptied batch back for reuse and free the rest, so memory stays
                // bounded by the batches in flight.
                let mut back = None;
                while let Ok(b) = back_rx.try_recv() {
                    back.get_or_insert(b);
                }
                Ok((sent, back))
            });
            if !group.is_empty() {
                let _ = tx.send(group);
            }
            drop(tx);
            Ok((sim, writer.join()))
        })?;
        sim?;
        self.totals.events =
            written.map_err(|_| std::io::Error::other("the writer thread panicked"))??;
        if halted.load(Ordering::Relaxed) {
            self.totals.interrupted = true;
        }
        Ok(self.finish_totals())
    }

    fn finish_totals(&mut self) -> RunTotals {
        self.totals.signed_up = self
            .shards
            .iter()
            .map(|s| s.users.iter().filter(|u| u.signed_up).count() as u64)
            .sum();
        self.totals.clone()
    }

    /// The epoch loop; `emit` takes each epoch's shard outputs, says whether to go on and
    /// may hand back an emptied batch so its buffers are reused.
    fn simulate(
        &mut self,
        stop: &AtomicBool,
        mut emit: impl FnMut(Vec<Out>, i64) -> std::io::Result<(bool, Option<Vec<Out>>)>,
    ) -> std::io::Result<()> {
        let mut spare: Vec<Vec<Out>> = Vec::new();
        let end = self.world.scenario.end_ms();
        let mut t0 = 0;
        let mut phase_cursor = 0;
        while t0 < end {
            if stop.load(Ordering::Relaxed) {
                self.totals.interrupted = true;
                break;
            }
            let t1 = (t0 + EPOCH_MS).min(end);
            self.arrive(t1);
            self.deliver(t0, t1, &mut phase_cursor);
            let w = &self.world;
            match &self.pool {
                Some(pool) => pool.install(|| {
                    self.shards
                        .par_iter_mut()
                        .for_each(|s| s.run_epoch(w, t0, t1))
                }),
                None => self.shards.iter_mut().for_each(|s| s.run_epoch(w, t0, t1)),
            }
            self.resolve_claims(t1);
            self.collect_invites(t1);
            let mut fresh = spare.pop().unwrap_or_default();
            fresh.resize_with(self.shards.len(), Out::default);
            let batch: Vec<Out> = self
                .shards
                .iter_mut()
                .zip(fresh)
                .map(|(s, mut o)| {
                    o.clear();
                    std::mem::replace(&mut s.out, o)
                })
                .collect();
            self.totals.simulated_ms = t1;
            let (go, back) = emit(batch, t1)?;
            if spare.len() < 4 {
                spare.extend(back);
            }
            if !go {
                self.totals.interrupted = true;
                break;
            }
            t0 = t1;
        }
        Ok(())
    }

    fn deliver(&mut self, t0: i64, t1: i64, cursor: &mut usize) {
        let w = Arc::clone(&self.world);
        for (t, gift, room, expires) in std::mem::take(&mut self.broadcasts) {
            let at = t.max(t0);
            for s in &mut self.shards {
                s.deliver_gift(&w, gift, room, at, expires);
            }
        }
        for user in std::mem::take(&mut self.wins) {
            self.shard_of(user).deliver_win(&w, user);
        }
        let phases = &w.scenario.phases;
        while *cursor < phases.len() && phases[*cursor].at_ms < t1 {
            let idx = *cursor;
            *cursor += 1;
            let ph = &phases[idx];
            let mut rng = stream(w.scenario.seed, Purpose::Phase, idx as u64);
            let phase = idx as u8;
            match &ph.kind {
                PhaseKind::LoginRush { users } => {
                    for (id, at) in self.arrivals(*users, ph.at_ms, ph.over_ms, &mut rng) {
                        self.shard_of(id)
                            .deliver_phase(id, at, phase, Script::Persona);
                    }
                }
                PhaseKind::ActionBurst {
                    users,
                    action,
                    times,
                } => {
                    let script = Script::Action {
                        action: *action,
                        times: *times,
                    };
                    for (id, at) in self.arrivals(*users, ph.at_ms, ph.over_ms, &mut rng) {
                        self.shard_of(id).deliver_phase(id, at, phase, script);
                    }
                }
                PhaseKind::GiftStorm { users, shares } => {
                    let script = Script::GiftDrop { shares: *shares };
                    for (id, at) in self.arrivals(*users, ph.at_ms, ph.over_ms, &mut rng) {
                        self.shard_of(id).deliver_phase(id, at, phase, script);
                    }
                }
                PhaseKind::GameBurst { users, updates } => {
                    for id in self.choose(*users, &mut rng) {
                        let n = updates.sample(&mut rng).round().clamp(1.0, 50.0) as u8;
                        let at = ph.at_ms + (unit(&mut rng) * 200.0) as i64;
                        self.shard_of(id).deliver_phase(
                            id,
                            at,
                            phase,
                            Script::Burst { updates: n },
                        );
                    }
                }
                PhaseKind::GoalWave { tiers } => {
                    let total: u32 = tiers.iter().map(|t| t.0).sum();
                    let chosen = self.choose(total, &mut rng);
                    let mut it = chosen.into_iter();
                    for (n, after) in tiers {
                        for id in it.by_ref().take(*n as usize) {
                            let at = ph.at_ms + after + (unit(&mut rng) * 1000.0) as i64;
                            self.shard_of(id)
                                .deliver_phase(id, at, phase, Script::GoalWave);
                        }
                    }
                }
                PhaseKind::NudgeCampaign { share } => {
                    for s in &mut self.shards {
                        s.deliver_campaign(phase, ph.at_ms, ph.over_ms.max(1), *share);
                    }
                }
                PhaseKind::Outage => {}
            }
        }
    }

    /// Up to `n` eligible users arriving as a Poisson process over `[at, at + over)`: N
    /// sorted uniforms.
    fn arrivals(&self, n: u32, at: i64, over: i64, rng: &mut rng::SimRng) -> Vec<(u32, i64)> {
        let chosen = self.choose(n, rng);
        let mut times: Vec<i64> = (0..chosen.len())
            .map(|_| at + (unit(rng) * over as f64) as i64)
            .collect();
        times.sort();
        chosen.into_iter().zip(times).collect()
    }

    /// Picks up to `n` eligible users with the phase's own stream: a partial shuffle of
    /// the sorted eligible ids, so the choice is the same for any shard count.
    fn choose(&self, n: u32, rng: &mut rng::SimRng) -> Vec<u32> {
        let mut ids: Vec<u32> = self.shards.iter().flat_map(|s| s.eligible()).collect();
        ids.sort_unstable();
        let k = (n as usize).min(ids.len());
        for i in 0..k {
            let last = ids.len() - 1;
            let j = i + (unit(rng) * (ids.len() - i) as f64) as usize;
            ids.swap(i, j.min(last));
        }
        ids.truncate(k);
        ids
    }

    /// First come, first served: attempts sorted by (time, user id) take the shares.
    fn resolve_claims(&mut self, t1: i64) {
        let mut attempts: Vec<(i64, u32, GiftId, usize)> = self
            .shards
            .iter()
            .flat_map(|s| s.out.claims.iter().copied())
            .collect();
        attempts.sort_unstable_by_key(|a| (a.0, a.1));
        self.totals.claim_attempts += attempts.len() as u64;
        let w = Arc::clone(&self.world);
        for (t, user, gift, index) in attempts {
            let outcome = match self.gifts.get_mut(&gift) {
                Some(g) if g.expires <= t => ClaimOutcome::Expired,
                Some(g) if g.remaining > 0 => {
                    g.remaining -= 1;
                    self.wins.push(user);
                    ClaimOutcome::Won {
                        share: g.shares - g.remaining,
                    }
                }
                Some(_) => ClaimOutcome::Exhausted,
                None => ClaimOutcome::Expired,
            };
            self.shard_of(user).patch_claim(&w, index, outcome);
        }
        let mut created: Vec<(i64, GiftId, u16, u32)> = self
            .shards
            .iter()
            .flat_map(|s| s.out.gifts.iter().copied())
            .collect();
        created.sort_unstable_by_key(|g| (g.0, g.1));
        for (t, gift, shares, room) in created {
            let expires = t + w.scenario.gift_expire_ms;
            self.gifts.insert(
                gift,
                Gift {
                    remaining: shares,
                    shares,
                    expires,
                },
            );
            self.expiry.push_back((expires, gift));
            self.broadcasts.push((t, gift, room, expires));
            self.totals.gifts += 1;
        }
        while let Some(&(expires, gift)) = self.expiry.front() {
            if expires > t1 - EPOCH_MS {
                break;
            }
            self.expiry.pop_front();
            self.gifts.remove(&gift);
        }
    }

    /// Organic sign-ups before `t1` become users, ids in arrival order.
    fn arrive(&mut self, t1: i64) {
        let w = Arc::clone(&self.world);
        while let Some(&t) = self.organic.front().filter(|t| **t < t1) {
            self.organic.pop_front();
            let id = self.next_id;
            self.next_id += 1;
            self.shard_of(id)
                .add_user(&w, id, Some(t), SignupSource::Organic, None);
            self.totals.users_created += 1;
        }
    }

    /// Accepted invites become users, ids in (join time, inviter, invite) order.
    fn collect_invites(&mut self, t1: i64) {
        let mut invites: Vec<(i64, u32, u32)> = self
            .shards
            .iter()
            .flat_map(|s| s.out.invites.iter().copied())
            .collect();
        invites.sort_unstable();
        let w = Arc::clone(&self.world);
        for (join, inviter, _) in invites {
            let id = self.next_id;
            self.next_id += 1;
            self.shard_of(id).add_user(
                &w,
                id,
                Some(join.max(t1)),
                SignupSource::Invite,
                Some(inviter),
            );
            self.totals.invitees += 1;
            self.totals.users_created += 1;
        }
        self.invites.clear();
    }
}

/// K-way merge of the shards' sorted epoch outputs by (time, user, seq) into the sink.
/// Returns the events written and false when the sink asked to stop.
fn merge(outs: &[Out], sink: &mut (dyn Sink + Send)) -> std::io::Result<(u64, bool)> {
    let mut heads = vec![0usize; outs.len()];
    let mut n = 0;
    loop {
        let mut best: Option<(usize, (i64, u32, u32))> = None;
        for (s, out) in outs.iter().enumerate() {
            if let Some(e) = out.events.get(heads[s]) {
                let k = (e.t_ms, e.user, e.seq);
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((s, k));
                }
            }
        }
        let Some((s, _)) = best else { break };
        let out = &outs[s];
        let i = heads[s];
        heads[s] += 1;
        let line: &[u8] = match out.spans.get(i) {
            Some(&(o, l)) => &out.lines[o as usize..(o + l) as usize],
            None => &[],
        };
        n += 1;
        if !sink.event(&out.events[i], line)? {
            return Ok((n, false));
        }
    }
    Ok((n, true))
}

/// Organic sign-up times over the window: a Poisson process thinned by the activity curve.
fn organic_signups(w: &World) -> Vec<i64> {
    let s = &w.scenario;
    let per_day = s.users as f64 * s.signups_per_day;
    if per_day <= 0.0 {
        return Vec::new();
    }
    let mut rng = stream(s.seed, Purpose::Signups, 0);
    let avg: f64 = {
        let mut sum = 0.0;
        for h in 0..24 {
            for d in 0..7 {
                sum += s.hourly[h] * s.weekly[d];
            }
        }
        sum / (24.0 * 7.0)
    };
    let peak =
        s.hourly.iter().cloned().fold(0.0, f64::max) * s.weekly.iter().cloned().fold(0.0, f64::max);
    // Candidate rate at the peak, thinned down to the curve: the mean rate stays `per_day`.
    let mean_gap = crate::units::DAY as f64 / (per_day * peak / avg);
    let mut out = Vec::new();
    let mut t = 0.0;
    let end = s.end_ms() as f64;
    loop {
        t += exp(&mut rng, mean_gap);
        if t >= end {
            break;
        }
        let abs = s.start_ms + t as i64;
        let hour = (abs.rem_euclid(crate::units::DAY) / crate::units::HOUR) as usize;
        if unit(&mut rng) * peak < s.hourly[hour] * s.weekly[crate::units::weekday(abs)] {
            out.push(t as i64);
        }
    }
    out
}

/// A stop flag shared with the Ctrl-C handler.
pub fn stop_flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}
