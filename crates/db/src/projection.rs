//! The database as a projection of the timeline: behaviour rows are the events themselves;
//! balances, progress, claims and sessions are the state folded from them.
//!
//! Rows stream out per table in COPY chunks (binary for PostgreSQL, text for SQLite and
//! `verify`, as the row sink asks) while the engine runs; what can only be
//! known at the end (users, goal progress, open sessions, unopened nudges) is written by
//! `finish`. Memory grows with users, not events.

use simulate_core::catalog::Catalog;
use simulate_core::ids::{user_email, user_name};
use simulate_core::persona::Persona;
use simulate_core::scenario::Scenario;
use simulate_core::timeline::*;

use super::copy::{RowBuf, Wire};
use super::partition;

/// The tables simulate owns, in load order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    BehaviorLogs,
    Sessions,
    PointsLedger,
    CheckIns,
    Purchases,
    Nudges,
    Gifts,
    GiftClaims,
    Users,
    UserGoalProgress,
    Challenges,
    Goals,
}

impl Table {
    pub const ALL: [Table; 12] = [
        Table::BehaviorLogs,
        Table::Sessions,
        Table::PointsLedger,
        Table::CheckIns,
        Table::Purchases,
        Table::Nudges,
        Table::Gifts,
        Table::GiftClaims,
        Table::Users,
        Table::UserGoalProgress,
        Table::Challenges,
        Table::Goals,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::BehaviorLogs => "behavior_logs",
            Table::Sessions => "sessions",
            Table::PointsLedger => "points_ledger",
            Table::CheckIns => "check_ins",
            Table::Purchases => "purchases",
            Table::Nudges => "nudges",
            Table::Gifts => "gifts",
            Table::GiftClaims => "gift_claims",
            Table::Users => "users",
            Table::UserGoalProgress => "user_goal_progress",
            Table::Challenges => "challenges",
            Table::Goals => "goals",
        }
    }

    /// How each column is compared by `verify`.
    pub(crate) fn column_types(self) -> &'static [ColumnType] {
        use ColumnType::*;
        match self {
            Table::BehaviorLogs => &[Int, Int, Text, Ts, Int, Text, Json],
            Table::Sessions => &[Int, Int, Text, Ts, Ts, Int, Text, Text],
            Table::PointsLedger => &[Int, Int, Ts, Int, Text, Int],
            Table::CheckIns => &[Int, Int, Ts, Text, Int, Int],
            Table::Purchases => &[Text, Int, Ts, Int, Text, Text],
            Table::Nudges => &[Text, Int, Ts, Int, Ts],
            Table::Gifts => &[Text, Int, Ts, Int, Int, Int],
            Table::GiftClaims => &[Text, Int, Ts, Int],
            Table::Users => &[
                Int, Text, Text, Text, Text, Text, Text, Int, Ts, Int, Ts, Json,
            ],
            Table::UserGoalProgress => &[Int, Text, Int, Text, Ts, Ts],
            Table::Challenges => &[Text, Text],
            Table::Goals => &[Text, Text, Text, Text, Int, Int],
        }
    }

    /// Columns in the order rows are written.
    /// The columns' types on PostgreSQL's binary COPY wire, as migrations/postgres
    /// declares them (a mismatch fails the COPY, which the seed tests would show).
    pub(crate) fn wire(self) -> &'static [Wire] {
        use Wire::*;
        match self {
            Table::BehaviorLogs => &[I8, I4, Text, Ts, I8, Text, Json],
            Table::Sessions => &[I8, I4, Text, Ts, Ts, I8, Text, Text],
            Table::PointsLedger => &[I8, I4, Ts, I8, Text, I8],
            Table::CheckIns => &[I8, I4, Ts, Text, I2, I4],
            Table::Purchases => &[Text, I8, Ts, I4, Text, Text],
            Table::Nudges => &[Text, I8, Ts, I4, Ts],
            Table::Gifts => &[Text, I8, Ts, I4, I4, I4],
            Table::GiftClaims => &[Text, I8, Ts, I4],
            Table::Users => &[I8, Text, Text, Text, Text, Text, Text, I4, Ts, I8, Ts, Json],
            Table::UserGoalProgress => &[I8, Text, I4, Text, Ts, Ts],
            Table::Challenges => &[Text, Text],
            Table::Goals => &[Text, Text, Text, Text, I4, I4],
        }
    }

    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            Table::BehaviorLogs => &[
                "user_id",
                "seq",
                "session_id",
                "ts",
                "t_ms",
                "event",
                "props",
            ],
            Table::Sessions => &[
                "user_id",
                "session_no",
                "session_key",
                "started_at",
                "ended_at",
                "duration_ms",
                "trigger",
                "end_reason",
            ],
            Table::PointsLedger => &["user_id", "seq", "ts", "delta", "reason", "balance_after"],
            Table::CheckIns => &["user_id", "seq", "ts", "day_part", "mood", "streak"],
            Table::Purchases => &["id", "user_id", "ts", "amount", "currency", "sku"],
            Table::Nudges => &["id", "user_id", "sent_at", "campaign", "opened_at"],
            Table::Gifts => &["id", "creator_id", "created_at", "shares", "value", "room"],
            Table::GiftClaims => &["gift_id", "user_id", "claimed_at", "share"],
            Table::Users => &[
                "id",
                "user_key",
                "persona",
                "name",
                "email",
                "locale",
                "platform",
                "room",
                "created_at",
                "points_balance",
                "churned_at",
                "attributes",
            ],
            Table::UserGoalProgress => &[
                "user_id",
                "goal_id",
                "progress",
                "status",
                "completed_at",
                "claimed_at",
            ],
            Table::Challenges => &["id", "name"],
            Table::Goals => &[
                "id",
                "challenge_id",
                "stat_code",
                "operator",
                "target",
                "reward",
            ],
        }
    }
}

/// A column's type, as far as comparing values goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Int,
    Text,
    Ts,
    Json,
}

/// Where finished chunks of rows go (a COPY stream, an SQLite transaction, a test).
pub trait RowSink: Send {
    /// A chunk of `rows` rows of `table`, all of users in `lane` (see `lanes`).
    fn rows(&mut self, table: Table, lane: usize, chunk: Vec<u8>, rows: u64)
    -> std::io::Result<()>;

    /// Into how many lanes the sink wants `table`'s rows split by user, lane
    /// `partition::of(user, lanes)`: one per hash partition a COPY stream fills alone.
    /// No default, like `binary`: a wrapper must forward it.
    fn lanes(&self, table: Table) -> usize;

    /// Whether chunks are binary COPY rows rather than COPY text lines. No default: a
    /// wrapper that forgot to forward it would send text to a binary COPY.
    fn binary(&self) -> bool;
}

const CHUNK: usize = 1 << 20;

#[derive(Clone, Default)]
struct Folded {
    signed: bool,
    persona: u16,
    platform: u8,
    locale: u8,
    source: u8,
    room: u32,
    invited_by: Option<u32>,
    created_ms: i64,
    balance: i64,
    churned_ms: Option<i64>,
    stats: [u32; 3],
    engaged: u64,
    /// (session number, start, trigger index).
    open: Option<(u32, i64, u8)>,
    /// (goal, completed at, claimed at).
    goals: Vec<(u16, i64, Option<i64>)>,
    /// (nudge number, sent at, campaign).
    nudges: Vec<(u32, i64, Option<u8>)>,
}

pub struct Projection<R: RowSink> {
    out: R,
    /// Per table, one buffer per lane.
    bufs: Vec<Vec<RowBuf>>,
    users: Vec<Folded>,
    personas: Vec<Persona>,
    start_ms: i64,
    seed: u64,
    catalog: Catalog,
    pub(crate) rows: Vec<(Table, u64)>,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

const TRIGGERS: [&str; 4] = ["internal", "nudge", "broadcast", "phase"];
const SOURCES: [&str; 3] = ["launch", "organic", "invite"];

fn label(p: &Persona, attr: &str, i: u8) -> String {
    p.attribute_index(attr)
        .and_then(|a| p.attributes[a].dist.labels().get(i as usize).cloned())
        .unwrap_or_default()
}

impl<R: RowSink> Projection<R> {
    pub fn new(out: R, personas: &[Persona], scenario: &Scenario) -> Projection<R> {
        Projection {
            bufs: Table::ALL
                .iter()
                .map(|t| {
                    (0..out.lanes(*t).max(1))
                        .map(|_| {
                            if out.binary() {
                                RowBuf::binary(t.wire())
                            } else {
                                RowBuf::default()
                            }
                        })
                        .collect()
                })
                .collect(),
            out,
            users: Vec::new(),
            personas: personas.to_vec(),
            start_ms: scenario.start_ms,
            seed: scenario.seed,
            catalog: scenario.catalog.clone(),
            rows: Vec::new(),
            sent: Default::default(),
        }
    }

    /// Rows handed to the row sink so far, for progress displays.
    pub fn sent(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        std::sync::Arc::clone(&self.sent)
    }

    /// The row sink back, once the run is over.
    pub fn into_inner(self) -> R {
        self.out
    }

    /// The buffer for `user`'s next row of `t`: its lane's, when the sink splits the table
    /// into lanes by user (PostgreSQL's hash partitions).
    fn buf(&mut self, t: Table, user: u32) -> &mut RowBuf {
        let lanes = &mut self.bufs[t as usize];
        let lane = partition::of(user as i64, lanes.len());
        &mut lanes[lane]
    }

    /// Hands over each lane of `t` that holds a chunk's worth (or anything, with `force`).
    fn flush(&mut self, t: Table, force: bool) -> std::io::Result<()> {
        for lane in 0..self.bufs[t as usize].len() {
            let b = &mut self.bufs[t as usize][lane];
            if b.buf.is_empty() || (!force && b.buf.len() < CHUNK) {
                continue;
            }
            let chunk = std::mem::replace(
                &mut b.buf,
                Vec::with_capacity(if force { 0 } else { CHUNK + 4096 }),
            );
            let rows = std::mem::take(&mut b.rows);
            self.sent
                .fetch_add(rows, std::sync::atomic::Ordering::Relaxed);
            self.account(t, rows);
            self.out.rows(t, lane, chunk, rows)?;
        }
        Ok(())
    }

    fn account(&mut self, t: Table, rows: u64) {
        match self.rows.iter_mut().find(|(x, _)| *x == t) {
            Some((_, n)) => *n += rows,
            None => self.rows.push((t, rows)),
        }
    }

    fn user(&mut self, id: u32) -> &mut Folded {
        let i = id as usize;
        if i >= self.users.len() {
            self.users.resize(i + 1, Folded::default());
        }
        &mut self.users[i]
    }

    fn observe(&mut self, e: &Event, line: &[u8]) -> std::io::Result<()> {
        let t = self.start_ms + e.t_ms;
        let uid = e.user;
        // behaviour row: the event line's own props, byte for byte.
        let props = props_of(line);
        let kind = e.props.name();
        let b = self.buf(Table::BehaviorLogs, uid).begin();
        b.int(uid).int(e.seq);
        if e.session == 0 {
            b.null();
        } else {
            b.id("s", uid, e.session);
        }
        b.ts(t).int(e.t_ms).text(kind).json(props).end();
        self.flush(Table::BehaviorLogs, false)?;
        if let Some(table) = self.fold(e, t) {
            self.flush(table, false)?;
        }
        Ok(())
    }

    /// What an event changes in its user's folded state (rows written at the end), or
    /// the row it adds to a table: the table touched.
    fn fold(&mut self, e: &Event, t: i64) -> Option<Table> {
        let uid = e.user;
        match e.props {
            Props::SignedUp {
                source,
                invited_by,
                platform,
                locale,
                room,
            } => {
                let u = self.user(uid);
                *u = Folded {
                    signed: true,
                    persona: e.persona,
                    platform,
                    locale,
                    source: source as u8,
                    room,
                    invited_by,
                    created_ms: t,
                    ..Folded::default()
                };
                None
            }
            Props::SessionStarted { trigger, .. } => {
                let ti = match trigger {
                    Trigger::Internal => 0,
                    Trigger::Nudge => 1,
                    Trigger::Broadcast => 2,
                    Trigger::Phase(_) => 3,
                };
                self.user(uid).open = Some((e.session, t, ti));
                None
            }
            Props::ChallengeViewed { challenge } => {
                self.user(uid).engaged |= 1 << challenge;
                None
            }
            Props::StatUpdated { code, value, .. } => {
                self.user(uid).stats[code as usize] = value;
                None
            }
            Props::GoalCompleted { goal, .. } => {
                self.user(uid).goals.push((goal, t, None));
                None
            }
            Props::GoalClaimed { goal, .. } => {
                if let Some(g) = self.user(uid).goals.iter_mut().find(|g| g.0 == goal) {
                    g.2 = Some(t);
                }
                None
            }
            Props::NudgeSent { nudge, campaign } => {
                self.user(uid).nudges.push((nudge, t, campaign));
                None
            }
            Props::Churned { .. } => {
                self.user(uid).churned_ms = Some(t);
                None
            }
            _ => self.row(e, t),
        }
    }

    /// A session closed: its row, with the trigger that opened it.
    fn session_row(
        &mut self,
        e: &Event,
        t: i64,
        reason: EndReason,
        duration_ms: i64,
    ) -> Option<Table> {
        let uid = e.user;

        let open = self.user(uid).open.take();
        let trigger = open.map(|o| TRIGGERS[o.2 as usize]).unwrap_or("internal");
        let b = self.buf(Table::Sessions, uid).begin();
        b.int(uid).int(e.session).id("s", uid, e.session);
        b.ts(t - duration_ms)
            .ts(t)
            .int(duration_ms)
            .text(trigger)
            .text(reason.name())
            .end();
        Some(Table::Sessions)
    }

    /// The row an event adds (a session, a ledger line, a gift, a claim, a check-in, a
    /// purchase, an opened nudge), and its table.
    fn row(&mut self, e: &Event, t: i64) -> Option<Table> {
        let uid = e.user;
        match e.props {
            Props::SessionEnded {
                reason,
                duration_ms,
                ..
            } => self.session_row(e, t, reason, duration_ms),
            Props::PointsEarned {
                amount,
                source,
                balance,
            } => {
                self.user(uid).balance = balance;
                let reason = if source == PointsSource::Goal {
                    "earned:goal"
                } else {
                    "earned:activity"
                };
                let b = self.buf(Table::PointsLedger, uid).begin();
                b.int(uid)
                    .int(e.seq)
                    .ts(t)
                    .int(amount as i64)
                    .text(reason)
                    .int(balance)
                    .end();
                Some(Table::PointsLedger)
            }
            Props::PointsRedeemed { amount, balance } => {
                self.user(uid).balance = balance;
                let b = self.buf(Table::PointsLedger, uid).begin();
                b.int(uid)
                    .int(e.seq)
                    .ts(t)
                    .int(-(amount as i64))
                    .text("redeemed")
                    .int(balance)
                    .end();
                Some(Table::PointsLedger)
            }
            Props::GiftCreated {
                gift,
                shares,
                value,
                room,
            } => {
                let b = self.buf(Table::Gifts, uid).begin();
                b.id("g", gift.creator, gift.n)
                    .int(uid)
                    .ts(t)
                    .int(shares)
                    .int(value)
                    .int(room)
                    .end();
                Some(Table::Gifts)
            }
            Props::GiftClaimed {
                gift,
                outcome: ClaimOutcome::Won { share },
            } => {
                let b = self.buf(Table::GiftClaims, uid).begin();
                b.id("g", gift.creator, gift.n)
                    .int(uid)
                    .ts(t)
                    .int(share)
                    .end();
                Some(Table::GiftClaims)
            }
            Props::CheckIn {
                day_part,
                mood,
                streak,
            } => {
                let b = self.buf(Table::CheckIns, uid).begin();
                b.int(uid)
                    .int(e.seq)
                    .ts(t)
                    .text(DAY_PARTS[day_part as usize % 4])
                    .int(mood)
                    .int(streak)
                    .end();
                Some(Table::CheckIns)
            }
            Props::Purchase {
                n,
                amount,
                currency,
            } => {
                let cur = String::from_utf8_lossy(&currency).into_owned();
                let b = self.buf(Table::Purchases, uid).begin();
                b.id("p", uid, n)
                    .int(uid)
                    .ts(t)
                    .int(amount)
                    .text(&cur)
                    .text(&sku(amount))
                    .end();
                Some(Table::Purchases)
            }
            Props::NudgeOpened { nudge, .. } => {
                let u = self.user(uid);
                match u.nudges.iter().position(|n| n.0 == nudge) {
                    Some(i) => {
                        let (n, sent, campaign) = u.nudges.remove(i);
                        self.nudge_row(uid, n, sent, campaign, Some(t));
                        Some(Table::Nudges)
                    }
                    None => None,
                }
            }
            _ => None,
        }
    }

    fn nudge_row(
        &mut self,
        uid: u32,
        n: u32,
        sent: i64,
        campaign: Option<u8>,
        opened: Option<i64>,
    ) {
        let b = self.buf(Table::Nudges, uid).begin();
        b.id("n", uid, n)
            .int(uid)
            .ts(sent)
            .opt_int(campaign.map(i64::from))
            .opt_ts(opened)
            .end();
    }

    /// The folded tables, the catalog and every remaining buffer.
    fn finish_rows(&mut self) -> std::io::Result<()> {
        let users = std::mem::take(&mut self.users);
        for (id, u) in users.iter().enumerate() {
            let id = id as u32;
            if !u.signed {
                continue;
            }
            let p = &self.personas[u.persona as usize];
            let locale = label(p, "locale", u.locale);
            let platform = label(p, "platform", u.platform);
            let name = user_name(self.seed, id, &locale);
            let email = user_email(&name, id);
            let attributes = serde_json::json!({
                "platform": platform,
                "locale": locale,
                "room": u.room,
                "source": SOURCES[u.source as usize % 3],
                "invited_by": u.invited_by.map(|i| format!("u{i}")),
            })
            .to_string();
            let persona = p.name.clone();
            let b = self.buf(Table::Users, id).begin();
            b.int(id)
                .tag("u", id)
                .text(&persona)
                .text(&name)
                .text(&email)
                .text(&locale)
                .text(&platform);
            b.int(u.room)
                .ts(u.created_ms)
                .int(u.balance)
                .opt_ts(u.churned_ms)
                .json(attributes.as_bytes())
                .end();
            self.flush(Table::Users, false)?;

            if let Some((n, start, trig)) = u.open {
                let b = self.buf(Table::Sessions, id).begin();
                b.int(id)
                    .int(n)
                    .id("s", id, n)
                    .ts(start)
                    .null()
                    .null()
                    .text(TRIGGERS[trig as usize])
                    .null()
                    .end();
            }
            for &(n, sent, campaign) in &u.nudges {
                self.nudge_row(id, n, sent, campaign, None);
            }
            for c in 0..self.catalog.challenges() {
                if u.engaged >> c & 1 == 0 {
                    continue;
                }
                for g in self.catalog.goals_of(c) {
                    let goal = &self.catalog.goals[g as usize];
                    let progress = u.stats[goal.code as usize].min(goal.target);
                    let done = u.goals.iter().find(|x| x.0 == g);
                    let status = match done {
                        Some((_, _, Some(_))) => "claimed",
                        Some(_) => "completed",
                        None => "in_progress",
                    };
                    let labels = self.catalog.labels.clone();
                    let b = self.buf(Table::UserGoalProgress, id).begin().int(id);
                    match &labels {
                        Some(l) => b.text(&l.goals[g as usize]),
                        None => b.tag("goal-", g),
                    }
                    .int(progress)
                    .text(status);
                    b.opt_ts(done.map(|d| d.1))
                        .opt_ts(done.and_then(|d| d.2))
                        .end();
                }
                self.flush(Table::UserGoalProgress, false)?;
            }
            self.flush(Table::Sessions, false)?;
            self.flush(Table::Nudges, false)?;
        }
        let catalog = self.catalog.clone();
        for c in 0..catalog.challenges() {
            self.buf(Table::Challenges, 0)
                .begin()
                .text(&catalog.challenge_id(c))
                .text(&catalog.challenge_name(c))
                .end();
        }
        // The team's ids, stat names and operators when the catalog is theirs.
        for (g, goal) in catalog.goals.iter().enumerate() {
            let b = self.buf(Table::Goals, 0).begin();
            b.text(&catalog.goal_id(g as u16))
                .text(&catalog.challenge_id(goal.challenge))
                .text(catalog.stat_name(goal.code));
            b.text(goal.op.symbol())
                .int(goal.target)
                .int(goal.reward)
                .end();
        }
        for t in Table::ALL {
            self.flush(t, true)?;
            self.account(t, 0);
        }
        self.rows.sort();
        Ok(())
    }
}

/// The `props` object of an event line: everything after `,"props":` but the closing
/// brace and newline. The fields before it never contain that text (persona names are
/// plain identifiers), so the first match is the right one.
pub(crate) fn props_of(line: &[u8]) -> &[u8] {
    const KEY: &[u8] = b",\"props\":";
    // The first occurrence: props is the line's last field, and a nested key of the same
    // name can only come after it. memmem: a byte-window scan here was a twelfth of the
    // whole seed's CPU.
    match memchr::memmem::find(line, KEY) {
        Some(i) => {
            let end = line.len() - if line.ends_with(b"}\n") { 2 } else { 1 };
            &line[i + KEY.len()..end.max(i + KEY.len())]
        }
        None => b"{}",
    }
}

impl<R: RowSink> Sink for Projection<R> {
    fn event(&mut self, e: &Event, line: &[u8]) -> std::io::Result<bool> {
        self.observe(e, line)?;
        Ok(true)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.finish_rows()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn props_are_cut_from_the_line() {
        let line = b"{\"v\":1,\"ts\":\"x\",\"persona\":\"hunter\",\"event\":\"a.b\",\"props\":{\"k\":1,\"props\":2}}\n";
        assert_eq!(props_of(line), b"{\"k\":1,\"props\":2}");
    }

    #[test]
    fn wire_types_agree_with_column_types_and_columns() {
        for t in Table::ALL {
            assert_eq!(t.wire().len(), t.columns().len(), "{}", t.name());
            for (w, k) in t.wire().iter().zip(t.column_types()) {
                let same = match w {
                    Wire::I2 | Wire::I4 | Wire::I8 => *k == ColumnType::Int,
                    Wire::Text => *k == ColumnType::Text,
                    Wire::Ts => *k == ColumnType::Ts,
                    Wire::Json => *k == ColumnType::Json,
                };
                assert!(same, "{}: {w:?} vs {k:?}", t.name());
            }
        }
    }
}
