//! A shard: a subset of users (id mod shards) with its own event queue.

use rand::distr::Distribution;

use super::agent::{self, Out};
use super::queue::WakeQueue;
use super::rng::{Purpose, key, stream, unit};
use super::user::{NEVER, Next, Pending, Script, User};
use super::world::World;
use crate::timeline::{GiftId, SignupSource};

pub(crate) struct Shard {
    /// Shards in all: this one holds the users whose id mod `count` is its index.
    pub(crate) count: u32,
    pub users: Vec<User>,
    queue: WakeQueue,
    /// Local indices of this shard's users per gift room.
    rooms: Vec<Vec<u32>>,
    pub(crate) out: Out,
}

impl Shard {
    pub(crate) fn new(count: u32, rooms: u32, expected_users: usize) -> Shard {
        Shard {
            count,
            users: Vec::with_capacity(expected_users),
            queue: WakeQueue::new(super::EPOCH_MS),
            rooms: vec![Vec::new(); rooms as usize],
            out: Out::default(),
        }
    }

    fn local(&self, id: u32) -> usize {
        (id / self.count) as usize
    }

    /// Adds a user who signs up at `signup_at`. Ids must arrive in increasing order.
    pub(crate) fn add_user(
        &mut self,
        w: &World,
        id: u32,
        signup_at: Option<i64>,
        source: SignupSource,
        invited_by: Option<u32>,
    ) {
        debug_assert_eq!(self.local(id), self.users.len());
        let mut rng = stream(w.scenario.seed, Purpose::User, id as u64);
        let persona = w.mix.sample(&mut rng) as u16;
        let p = &w.personas[persona as usize];
        let mut attrs = [0f32; super::MAX_ATTRIBUTES];
        for (i, a) in p.attributes.iter().enumerate().take(super::MAX_ATTRIBUTES) {
            attrs[i] = a.dist.sample(&mut rng) as f32;
        }
        let room = (key(w.scenario.seed, Purpose::Room, id as u64) % w.rooms as u64) as u32;
        let words = w.catalog.words();
        let mut u = User {
            id,
            persona,
            attrs,
            room,
            rng,
            source,
            invited_by,
            signed_up: false,
            churned: false,
            signup_ms: 0,
            habit: p.habit.initial as f32,
            habit_ms: 0,
            trigger_at: NEVER,
            pending: Pending::Signup,
            nudge_at: NEVER,
            campaign_at: NEVER,
            campaign: 0,
            step_at: NEVER,
            wake: NEVER,
            in_session: false,
            session: 0,
            session_start: 0,
            next: Next::State(0),
            script: Script::Persona,
            reward_tries: 0,
            investment_tries: 0,
            seq: 0,
            balance: 0,
            streak: 0,
            last_checkin_day: 0,
            stats: [0; 3],
            engaged: 0,
            goals: vec![0; 2 * words].into_boxed_slice(),
            unclaimed: 0,
            nudges: 0,
            nudges_this_absence: 0,
            gifts_created: 0,
            invites: 0,
            purchases: 0,
            known_gifts: Vec::new(),
            counters: vec![0; w.declared.counters.len()].into_boxed_slice(),
        };
        u.trigger_at = match signup_at {
            Some(t) => t,
            None => agent::first_arrival(w, &mut u, 0, w.scenario.launch_window_ms()),
        };
        let wake = u.recompute_wake();
        self.rooms[room as usize].push(self.users.len() as u32);
        self.users.push(u);
        if wake != NEVER {
            self.queue.push(wake, id);
        }
    }

    /// Runs every wake-up in the epoch [`start`, `end`).
    pub(crate) fn run_epoch(&mut self, w: &World, start: i64, end: i64) {
        self.queue.advance(start);
        while let Some((t, id)) = self.queue.pop_before(end) {
            let i = self.local(id);
            let u = &mut self.users[i];
            if u.wake != t {
                continue;
            }
            agent::wake(w, u, &mut self.out, t);
            let next = u.recompute_wake();
            if next != NEVER {
                self.queue.push(next, id);
            }
        }
    }

    fn reschedule(&mut self, i: usize) {
        let u = &mut self.users[i];
        let before = u.wake;
        let after = u.recompute_wake();
        if after < before {
            self.queue.push(after, u.id);
        }
    }

    /// A gift broadcast to a room: members hear of it; some come to claim it.
    pub(crate) fn deliver_gift(
        &mut self,
        w: &World,
        gift: GiftId,
        room: u32,
        at: i64,
        expires: i64,
    ) {
        let members = std::mem::take(&mut self.rooms[room as usize]);
        for &i in &members {
            let u = &mut self.users[i as usize];
            if !u.signed_up || u.churned || u.id == gift.creator {
                continue;
            }
            if u.known_gifts.len() >= 4 {
                u.known_gifts.remove(0);
            }
            u.known_gifts.push((gift, expires));
            let p = &w.personas[u.persona as usize];
            // Nobody answers every ping: within the persona's minimum gap the app stays shut.
            if u.in_session || p.habit.broadcast_response <= 0.0 || at - u.habit_ms < p.min_gap_ms {
                continue;
            }
            let h = u.habit_at(at, p.habit.half_life_ms) as f64;
            if unit(&mut u.rng) < p.habit.broadcast_response * (0.25 + 0.75 * h) {
                let when = at + 1 + p.habit.broadcast_delay.sample(&mut u.rng) as i64;
                if when < u.trigger_at {
                    u.trigger_at = when;
                    u.pending = Pending::Broadcast;
                    self.reschedule(i as usize);
                }
            }
        }
        self.rooms[room as usize] = members;
    }

    /// A won gift claim pays off as a variable reward.
    pub(crate) fn deliver_win(&mut self, w: &World, user: u32) {
        let i = self.local(user);
        let u = &mut self.users[i];
        let gain = w.personas[u.persona as usize].habit.reward_gain;
        u.strengthen(gain);
    }

    /// A phase chose this user: a session starts at `at`.
    pub(crate) fn deliver_phase(&mut self, user: u32, at: i64, phase: u8, script: Script) {
        let i = self.local(user);
        let u = &mut self.users[i];
        if u.churned || u.in_session {
            return;
        }
        u.trigger_at = at;
        u.pending = Pending::Phase { phase, script };
        // The habit trigger this replaces is drawn again after the phase's session.
        let wake = u.recompute_wake();
        let id = u.id;
        self.queue.push(wake, id);
    }

    /// A nudge campaign: each signed-up user is in it with probability `share`.
    pub(crate) fn deliver_campaign(&mut self, phase: u8, at: i64, over: i64, share: f64) {
        for i in 0..self.users.len() {
            let u = &mut self.users[i];
            if !u.signed_up {
                continue;
            }
            if unit(&mut u.rng) < share {
                u.campaign_at = at + (unit(&mut u.rng) * over as f64) as i64;
                u.campaign = phase;
                self.reschedule(i);
            }
        }
    }

    /// Users a phase may pick: signed up, not churned, not in a session.
    pub(crate) fn eligible(&self) -> impl Iterator<Item = u32> + '_ {
        self.users
            .iter()
            .filter(|u| u.signed_up && !u.churned && !u.in_session)
            .map(|u| u.id)
    }

    pub(crate) fn patch_claim(
        &mut self,
        w: &World,
        index: usize,
        outcome: crate::timeline::ClaimOutcome,
    ) {
        let e = &mut self.out.events[index];
        if let crate::timeline::Props::GiftClaimed { outcome: o, .. } = &mut e.props {
            *o = outcome;
        }
        if w.serialize {
            let e = self.out.events[index];
            let start = self.out.lines.len();
            w.writer.write(&e, &mut self.out.lines, &mut self.out.dates);
            self.out.spans[index] = (start as u32, (self.out.lines.len() - start) as u32);
        }
    }
}
