//! One device's state machine: its baseline, the version it runs, and the sequence instances
//! in flight, and how a signal or the passing of time moves them. Synchronous and free of I/O:
//! time comes in with each call. What an instance reports is worded in [`summary`].

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::classify::{Signal, SignalKind};
use crate::correlate::access::{self, AccessBook};
use crate::correlate::finding::{Evidence, Finding};
use crate::correlate::sequence::{Condition, JoinField, Sequence, SequenceRules, Severity};
use crate::correlate::summary::DeviceFacts;
use crate::correlate::{summary, version};
use crate::time::Millis;

/// Most evidence lines one instance keeps by default (`max_evidence`). Past the cap the first
/// line, the lines that matched a step and the latest lines are kept; the others are dropped
/// (and counted), so a device repeating one line cannot grow its machine without bound.
pub const DEFAULT_MAX_EVIDENCE: usize = 64;
/// Most sequence instances one device keeps by default (`max_pending`): with
/// [`DEFAULT_MAX_EVIDENCE`] per instance, what bounds a device's pending evidence.
pub const DEFAULT_MAX_PENDING: usize = 32;
/// Signal fingerprints remembered per device to drop duplicate deliveries.
const DEDUPE_MEMORY: usize = 128;
/// Rule id of the finding a device raises when it loses evidence at its limits.
pub const EVIDENCE_DROPPED_RULE: &str = "t1601.evidence_dropped";
/// A device raises one evidence-dropped finding per window, counted from its first loss: one
/// alert id for the whole flood, not one alert per dropped instance.
pub const FLOOD_WINDOW: Millis = 24 * crate::time::HOUR;
/// A flood's count is reported again once no loss has followed for this long.
pub const FLOOD_SETTLE: Millis = crate::time::MINUTE;
/// Timer number of a flood's next report or the end of its window (instance numbers count up
/// from 0).
const FLOOD_TIMER: u64 = u64::MAX;

/// Where the baseline came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineSource {
    Inventory,
    /// The first boot banner seen for a device the inventory did not describe.
    Learned,
    /// A change the calendar authorised (suppressed finding).
    Authorised,
}

/// The version and image a device is expected to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub version: Option<String>,
    pub image: Option<String>,
    pub source: BaselineSource,
    pub since: Option<Millis>,
}

/// What an instance last reported, so that only a raised finding is emitted again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Emitted {
    pub revision: u32,
    pub severity: Severity,
    pub confidence: f64,
    /// The version the device was reported to boot: a version learnt after the boot line
    /// (FortiGate and PAN-OS report it in a line of their own) is news even when it raises
    /// neither severity nor confidence. Absent in records written before it existed.
    #[serde(default)]
    pub version_after: Option<String>,
    /// The version reported was inferred from an image name: the device's own report of it
    /// is worth a new revision even when it raises nothing.
    #[serde(default)]
    pub version_inferred: bool,
}

/// One run of a sequence rule on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Per-device counter, for timers.
    pub no: u64,
    pub rule: String,
    /// Alert id, derived from device, rule and the first evidence (stable across runs).
    pub id: String,
    /// Furthest step matched.
    pub reached: usize,
    /// Time each step was matched (None: not seen, possibly an optional step skipped).
    pub step_times: Vec<Option<Millis>>,
    /// In time order (lines of one time in arrival order). Stored apart from the machine, one
    /// record per line (see `state`), so that writing a busy machine costs the lines that
    /// changed, not every line it holds; read inline only from records of the old layout.
    #[serde(default, skip_serializing)]
    pub evidence: Vec<Evidence>,
    /// The store's view of `evidence`.
    #[serde(default)]
    pub line_keys: LineKeys,
    pub first: Millis,
    pub last: Millis,
    pub image: Option<String>,
    pub server: Option<String>,
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    /// The staged image whose file name `version_after` was read from, when the device booted
    /// without reporting a version (None when the device reported it).
    #[serde(default)]
    pub version_inferred_from: Option<String>,
    pub completed: Option<Millis>,
    pub emitted: Option<Emitted>,
}

/// A device: baseline, running version, instances in flight, recent fingerprints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceMachine {
    pub device: String,
    pub vendor: Option<String>,
    pub baseline: Option<Baseline>,
    /// Version seen at the last boot (starts as the baseline).
    pub running: Option<String>,
    pub instances: Vec<Instance>,
    pub next_no: u64,
    /// (event time, fingerprint) of recent signals, to drop duplicates.
    pub seen: VecDeque<(Millis, u64)>,
    /// Last time a signal of this device was processed.
    pub last_signal: Option<Millis>,
    /// The latest signals, for the analyst looking at the device.
    #[serde(default)]
    pub recent: VecDeque<RecentSignal>,
    /// What the device lost at its limits in the current flood window, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood: Option<Flood>,
    /// Privileged access seen for the device (sources, accounts, new accesses): boxed and
    /// absent until the device shows any, so an idle machine stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Box<AccessBook>>,
    /// Floods this machine has had: each gets its own owner number for its evidence lines.
    #[serde(default)]
    pub floods: u64,
    /// Owners (instances, flood) with lines in the store, sorted: an owner gone from the
    /// machine since has its lines deleted at the next write.
    #[serde(skip)]
    pub stored_owners: Vec<u64>,
}

/// The store's view of one owner's evidence lines (an instance's or a flood's): each line has a
/// number, its key in the store, given once; a write stores the lines numbered since the last
/// one and deletes the stored lines dropped since, so its cost is what changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LineKeys {
    /// The number of each evidence line, in the order of the evidence.
    #[serde(skip)]
    pub nos: Vec<u64>,
    /// The number the next line gets.
    #[serde(default)]
    pub next: u64,
    /// Lines numbered below this are in the store.
    #[serde(skip)]
    pub stored: u64,
    /// Numbers of stored lines dropped since the machine was last stored.
    #[serde(skip)]
    pub dropped: Vec<u64>,
}

impl LineKeys {
    /// Numbers lines that have none (a record of the old layout, an instance built whole).
    fn number(&mut self, len: usize) {
        if self.nos.len() != len {
            self.nos = (self.next..self.next + len as u64).collect();
            self.next += len as u64;
        }
    }

    fn insert(&mut self, evidence: &mut Vec<Evidence>, pos: usize, e: Evidence) {
        self.number(evidence.len());
        evidence.insert(pos, e);
        self.nos.insert(pos, self.next);
        self.next += 1;
    }

    fn remove(&mut self, evidence: &mut Vec<Evidence>, i: usize) -> Evidence {
        self.number(evidence.len());
        let no = self.nos.remove(i);
        if no < self.stored {
            self.dropped.push(no);
        }
        evidence.remove(i)
    }

    /// The lines not yet in the store, with their numbers.
    pub fn unstored<'a>(
        &'a self,
        evidence: &'a [Evidence],
    ) -> impl Iterator<Item = (u64, &'a Evidence)> + 'a {
        // Lines without numbers (see `number`) are all new.
        let numbered = self.nos.len() == evidence.len();
        evidence.iter().enumerate().filter_map(move |(i, e)| {
            let no = if numbered {
                self.nos[i]
            } else {
                self.next + i as u64
            };
            (no >= self.stored || !numbered).then_some((no, e))
        })
    }

    fn mark_stored(&mut self, len: usize) {
        self.number(len);
        self.stored = self.next;
        self.dropped.clear();
    }

    /// Takes the lines read from the store (in the evidence's order), which are then stored.
    fn attach(&mut self, evidence: &mut Vec<Evidence>, lines: Vec<(u64, Evidence)>) {
        if lines.is_empty() && !evidence.is_empty() {
            // Inline evidence of a record of the old layout: numbered, not stored yet.
            self.number(evidence.len());
            return;
        }
        evidence.clear();
        self.nos.clear();
        for (no, e) in lines {
            self.next = self.next.max(no + 1);
            self.nos.push(no);
            evidence.push(e);
        }
        self.stored = self.next;
        self.dropped.clear();
    }
}

/// Evidence a device lost at its limits (`max_pending`, `max_evidence`) within one
/// [`FLOOD_WINDOW`]: an attacker who floods a device's log with sequence starts pushes the
/// real one out, so the loss itself is a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flood {
    /// Alert id, derived from device and the first loss (stable across revisions).
    pub id: String,
    /// Event time of the first loss: the window runs from here.
    pub since: Millis,
    /// Event time of the latest loss.
    pub last: Millis,
    /// Sequence instances dropped at `max_pending`.
    pub instances: u64,
    /// Evidence lines dropped, with those instances or at `max_evidence`.
    pub lines: u64,
    /// The lines of the first dropped instances (the real sequence is the oldest one pushed
    /// out), then the latest, up to `max_evidence`. Stored apart, as an instance's are.
    #[serde(default, skip_serializing)]
    pub evidence: Vec<Evidence>,
    /// The store's view of `evidence`.
    #[serde(default)]
    pub line_keys: LineKeys,
    /// Owner number of the evidence lines in the store (counting down from the top, where
    /// instance numbers never reach).
    #[serde(default = "legacy_flood_owner")]
    pub owner: u64,
    /// `lines` when a revision was last reported.
    pub reported: u64,
    pub revision: u32,
}

/// Owner number of a flood stored before floods had one.
fn legacy_flood_owner() -> u64 {
    u64::MAX
}

impl Flood {
    /// What is counted for reports: every dropped instance drops its lines with it.
    fn total(&self) -> u64 {
        self.lines
    }

    fn window_end(&self) -> Millis {
        self.since.saturating_add(FLOOD_WINDOW)
    }

    /// When the next report or the end of the window is due without a new loss: the count
    /// is reported again once the flood has paused for [`FLOOD_SETTLE`].
    fn deadline(&self) -> Millis {
        if self.total() > self.reported {
            self.last
                .saturating_add(FLOOD_SETTLE)
                .min(self.window_end())
        } else {
            self.window_end()
        }
    }

    /// Reported at the first loss and again each time the count reaches the next power of
    /// ten; besides, once the flood pauses (see [`Flood::deadline`]): few revisions however
    /// large the flood, the last one with its full size.
    fn due(&self) -> bool {
        let order = |n: u64| n.checked_ilog10();
        self.total() > self.reported && order(self.total()) != order(self.reported)
    }
}

/// How many recent signals a device keeps.
pub const RECENT: usize = 16;

/// A signal as the device view shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentSignal {
    pub time: Millis,
    pub kind: SignalKind,
    pub rule_id: String,
    pub message: String,
}

/// Facts about the device the rules need besides the signal itself, and the limits that apply.
pub struct Context<'a> {
    /// Servers images may come from.
    pub allowlist: &'a crate::calendar::Allowlist,
    /// Most evidence lines per instance (at least 2), and most recent signals per device
    /// (at most [`RECENT`]).
    pub max_evidence: usize,
    /// Most sequence instances per device (at least 1): a device that keeps starting
    /// sequences (a flood of transfers of distinct images) loses its oldest unreported
    /// instance, evidence and all, rather than growing without bound.
    pub max_pending: usize,
    /// Evidence lines dropped at the caps, counted for the metrics.
    pub evidence_dropped: std::cell::Cell<u64>,
}

impl<'a> Context<'a> {
    pub fn new(allowlist: &'a crate::calendar::Allowlist, max_evidence: usize) -> Self {
        Context {
            allowlist,
            max_evidence: max_evidence.max(2),
            max_pending: DEFAULT_MAX_PENDING,
            evidence_dropped: std::cell::Cell::new(0),
        }
    }
}

impl DeviceMachine {
    pub fn new(device: &str, vendor: Option<String>, baseline: Option<Baseline>) -> Self {
        let running = baseline.as_ref().and_then(|b| b.version.clone());
        DeviceMachine {
            device: device.to_string(),
            vendor,
            baseline,
            running,
            instances: Vec::new(),
            next_no: 0,
            seen: VecDeque::new(),
            last_signal: None,
            recent: VecDeque::new(),
            flood: None,
            floods: 0,
            stored_owners: Vec::new(),
            access: None,
        }
    }

    /// What the machine knows besides an instance that its findings may need.
    fn device_facts(&self) -> DeviceFacts<'_> {
        DeviceFacts {
            access: self.access.as_deref(),
            running_image: self
                .baseline
                .as_ref()
                .and_then(|b| Some((b.image.as_deref()?, b.since))),
        }
    }

    /// The owners of evidence lines (instance numbers, then the flood's), each with its lines
    /// and their bookkeeping: what a store writes apart from the machine.
    pub fn evidence_owners(&self) -> impl Iterator<Item = (u64, &[Evidence], &LineKeys)> {
        self.instances
            .iter()
            .map(|i| (i.no, i.evidence.as_slice(), &i.line_keys))
            .chain(
                self.flood
                    .iter()
                    .map(|f| (f.owner, f.evidence.as_slice(), &f.line_keys)),
            )
    }

    /// Owners whose lines are in the store but which are gone from the machine (an instance
    /// completed, timed out or dropped; a flood window closed): their lines go too.
    pub fn gone_owners(&self) -> Vec<u64> {
        let mut current: Vec<u64> = self.evidence_owners().map(|(o, _, _)| o).collect();
        current.sort_unstable();
        self.stored_owners
            .iter()
            .copied()
            .filter(|o| current.binary_search(o).is_err())
            .collect()
    }

    /// The machine as the store now holds it: every line numbered so far is stored, no dropped
    /// line is left to delete.
    pub fn mark_stored(&mut self) {
        let mut owners = Vec::with_capacity(self.instances.len() + 1);
        for inst in &mut self.instances {
            inst.line_keys.mark_stored(inst.evidence.len());
            owners.push(inst.no);
        }
        if let Some(f) = &mut self.flood {
            f.line_keys.mark_stored(f.evidence.len());
            owners.push(f.owner);
        }
        owners.sort_unstable();
        self.stored_owners = owners;
    }

    /// Puts back the evidence lines read from the store, `(owner, line number, line)` in key
    /// order (owner, then number). Lines of owners the machine no longer has are left out and
    /// deleted by the next write.
    pub fn attach_evidence(&mut self, lines: Vec<(u64, u64, Evidence)>) {
        let mut by_owner: std::collections::HashMap<u64, Vec<(u64, Evidence)>> =
            std::collections::HashMap::new();
        for (owner, no, e) in lines {
            by_owner.entry(owner).or_default().push((no, e));
        }
        let mut owners: Vec<u64> = by_owner.keys().copied().collect();
        owners.sort_unstable();
        for inst in &mut self.instances {
            let mut got = by_owner.remove(&inst.no).unwrap_or_default();
            // Time order, lines of one time in the order they came (their numbers): as
            // `add_evidence` keeps them.
            got.sort_by_key(|(no, e)| (e.time, *no));
            inst.line_keys.attach(&mut inst.evidence, got);
        }
        if let Some(f) = &mut self.flood {
            let got = by_owner.remove(&f.owner).unwrap_or_default();
            f.line_keys.attach(&mut f.evidence, got);
        }
        self.stored_owners = owners;
    }

    /// Takes evidence lines carried with the machine (a changelog record), by owner, as lines
    /// no store holds yet: the next write stores them.
    pub fn take_inline_evidence(&mut self, lines: Vec<(u64, Vec<Evidence>)>) {
        for (owner, evidence) in lines {
            if let Some(inst) = self.instances.iter_mut().find(|i| i.no == owner) {
                inst.evidence = evidence;
            } else if let Some(f) = self.flood.as_mut().filter(|f| f.owner == owner) {
                f.evidence = evidence;
            }
        }
    }

    /// True (and remembered) when this fingerprint at this time was not seen before.
    pub fn first_delivery(&mut self, time: Millis, fingerprint: u64) -> bool {
        if self
            .seen
            .iter()
            .any(|&(t, f)| t == time && f == fingerprint)
        {
            return false;
        }
        if self.seen.len() >= DEDUPE_MEMORY {
            self.seen.pop_front();
        }
        self.seen.push_back((time, fingerprint));
        true
    }

    /// Drops instances until one more fits under `max_pending`: the least recently advanced
    /// of those not yet reported, else the least recently advanced (a lingering one). What is
    /// dropped goes to `lost`, for the evidence-dropped finding.
    fn make_room(&mut self, ctx: &Context<'_>, lost: &mut Vec<Instance>) {
        while self.instances.len() >= ctx.max_pending.max(1) {
            let oldest = |reported: bool| {
                (0..self.instances.len())
                    .filter(|&i| self.instances[i].emitted.is_some() == reported)
                    .min_by_key(|&i| self.instances[i].last)
            };
            let Some(victim) = oldest(false).or_else(|| oldest(true)) else {
                return;
            };
            let gone = self.instances.remove(victim);
            ctx.evidence_dropped
                .set(ctx.evidence_dropped.get() + gone.evidence.len() as u64);
            lost.push(gone);
        }
    }

    /// Counts what was lost at the limits in this device's flood window, and reports the
    /// evidence-dropped finding when it is due (see [`Flood::due`]).
    fn note_loss(
        &mut self,
        lost: Vec<Instance>,
        lines: u64,
        now: Millis,
        ctx: &Context<'_>,
        out: &mut Vec<Finding>,
    ) {
        if lost.is_empty() && lines == 0 {
            return;
        }
        let device = &self.device;
        if self.flood.is_none() {
            self.floods += 1;
        }
        let owner = u64::MAX - self.floods;
        let flood = self.flood.get_or_insert_with(|| Flood {
            id: flood_id(device, now),
            since: now,
            last: now,
            instances: 0,
            lines: 0,
            evidence: Vec::new(),
            line_keys: LineKeys::default(),
            owner,
            reported: 0,
            revision: 0,
        });
        flood.last = flood.last.max(now);
        flood.instances += lost.len() as u64;
        flood.lines += lines;
        let cap = ctx.max_evidence.max(2);
        for e in lost.into_iter().flat_map(|i| i.evidence) {
            if flood.evidence.len() >= cap {
                let last = flood.evidence.len() - 1;
                flood.line_keys.remove(&mut flood.evidence, last);
            }
            let end = flood.evidence.len();
            flood.line_keys.insert(&mut flood.evidence, end, e);
        }
        if flood.due() {
            self.report_flood(ctx, out);
        }
    }

    fn report_flood(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let Some(flood) = &mut self.flood else {
            return;
        };
        flood.revision += 1;
        flood.reported = flood.total();
        let mut f = summary::evidence_dropped(&self.device, flood, ctx);
        f.revision = flood.revision;
        out.push(f);
    }

    /// The earliest time something must happen to this device without a new signal.
    pub fn deadlines(&self, rules: &SequenceRules) -> Vec<(Millis, u64)> {
        self.instances
            .iter()
            .filter_map(|inst| Some((deadline(rule_of(rules, &inst.rule)?, inst), inst.no)))
            .chain(self.flood.as_ref().map(|f| (f.deadline(), FLOOD_TIMER)))
            .collect()
    }

    /// When a sequence of this device has an image staged, was told to reload and waits for
    /// the boot, the time of that reload (the latest, if several): the device's next line
    /// after a silence is that boot.
    pub fn awaited_boot(&self, rules: &SequenceRules) -> Option<Millis> {
        self.instances
            .iter()
            .filter(|inst| {
                let Some(rule) = rule_of(rules, &inst.rule) else {
                    return false;
                };
                let reloaded = rule.steps[inst.reached]
                    .kinds
                    .iter()
                    .any(|k| matches!(k, SignalKind::Reload | SignalKind::ReloadCmd));
                let staged = inst.step_times[..inst.reached].iter().any(Option::is_some);
                inst.completed.is_none() && reloaded && staged
            })
            .filter_map(|inst| inst.step_times[inst.reached])
            .max()
    }

    /// A change the calendar authorised becomes the new baseline.
    pub fn authorise(&mut self, version: Option<&str>, image: Option<&str>, at: Millis) {
        let old = self.baseline.take();
        self.baseline = Some(Baseline {
            version: version
                .map(str::to_string)
                .or(old.as_ref().and_then(|b| b.version.clone())),
            image: image.map(str::to_string).or(old.and_then(|b| b.image)),
            source: BaselineSource::Authorised,
            since: Some(at),
        });
    }

    /// Feeds one signal; findings to report are pushed to `out`.
    ///
    /// Returns false when the signal changed nothing a restart must keep: a routine access
    /// (see [`AccessBook::is_routine`]) that no sequence takes, which started, ended or reported
    /// nothing. Recency, the recent-signal list and the duplicate memory still change in
    /// memory; losing them to a crash loses nothing a finding rests on.
    pub fn on_signal(
        &mut self,
        rules: &SequenceRules,
        ctx: &Context<'_>,
        sig: &Signal,
        out: &mut Vec<Finding>,
    ) -> bool {
        let routine = self.access.as_deref().is_some_and(|b| b.is_routine(sig))
            && !rules.sequences.iter().any(|r| r.takes(sig.kind));
        let (instances_before, findings_before) = (self.instances.len(), out.len());
        self.last_signal = Some(self.last_signal.map_or(sig.time, |t| t.max(sig.time)));
        // The oldest entry makes room, its strings reused for the new one.
        let mut oldest = None;
        while self.recent.len() >= RECENT.min(ctx.max_evidence) {
            oldest = self.recent.pop_front();
        }
        let entry = match oldest {
            Some(mut e) => {
                e.time = sig.time;
                e.kind = sig.kind;
                e.rule_id.clone_from(&sig.rule_id);
                e.message.clone_from(&sig.message);
                e
            }
            None => RecentSignal {
                time: sig.time,
                kind: sig.kind,
                rule_id: sig.rule_id.clone(),
                message: sig.message.clone(),
            },
        };
        self.recent.push_back(entry);
        if self.vendor.is_none()
            && !sig.vendor.is_empty()
            && matches!(sig.kind, SignalKind::Boot | SignalKind::Version)
        {
            self.vendor = Some(sig.vendor.clone());
        }
        let boot_version = match sig.kind {
            SignalKind::Boot | SignalKind::Version => sig.fields.version.clone(),
            _ => None,
        };
        let mut facts = VersionFacts::of(self, boot_version.as_deref());
        if access::is_access(sig.kind) {
            let book = self.access.get_or_insert_with(Box::default);
            facts.via_web_or_api =
                sig.kind == SignalKind::AccountCreated && book.via_web_or_api(sig);
            book.observe(sig);
            if let Some(window) = rules.access_window() {
                book.expire(sig.time.saturating_sub(window));
            }
        }
        self.expire_lingering(rules, sig.time);
        let dropped_before = ctx.evidence_dropped.get();
        let mut lost = Vec::new();
        // The hint for reading a version out of an image name: what the device is known to
        // run, else what recognised this line.
        let vendor = self.vendor.clone().or_else(|| Some(sig.vendor.clone()));
        // A version read from the staged image's name at a boot that reported none.
        let mut inferred = None;

        // A line that stands for several steps (an install that reloads by itself) is offered
        // once per step, in order; its evidence is kept once per instance.
        for (n, &kind) in sig.kind.correlates_as().iter().enumerate() {
            let offer = Offer {
                sig,
                kind,
                vendor: vendor.as_deref(),
                again: n > 0,
            };
            if let Some(v) = self.offer(rules, ctx, &offer, &facts, &mut lost, out) {
                inferred = Some(v);
            }
        }
        // Every evidence line dropped in this call: with the instances, or at `max_evidence`.
        let lines = ctx.evidence_dropped.get() - dropped_before;
        self.note_loss(lost, lines, sig.time, ctx, out);
        // What the device now runs, as far as the staged image's name tells: the next change
        // is compared with it, not with a baseline the device has already left. The baseline
        // itself is only ever learned from a version the device reported.
        if let Some(v) = inferred {
            self.running = Some(v);
        }
        if let Some(v) = boot_version {
            self.running = Some(v.clone());
            if self.baseline.as_ref().is_none_or(|b| b.version.is_none()) {
                self.baseline = Some(Baseline {
                    version: Some(v),
                    image: None,
                    source: BaselineSource::Learned,
                    since: Some(sig.time),
                });
            }
        }
        !(routine && self.instances.len() == instances_before && out.len() == findings_before)
    }

    /// Offers a signal, read as one of the kinds it stands for, to the rules in priority order:
    /// the first running instance that takes it, else the first rule it can start, has it.
    /// Returns the version read from the staged image's name when the signal completed a
    /// sequence with a boot that reported none.
    fn offer(
        &mut self,
        rules: &SequenceRules,
        ctx: &Context<'_>,
        offer: &Offer<'_>,
        facts: &VersionFacts,
        lost: &mut Vec<Instance>,
        out: &mut Vec<Finding>,
    ) -> Option<String> {
        let sig = offer.sig;
        let mut inferred = None;
        'rules: for (ri, rule) in rules.sequences.iter().enumerate() {
            if !rule.involves(offer.kind) {
                continue;
            }
            // Offer the signal to running instances of this rule, most recent first.
            let mut order: Vec<usize> = (0..self.instances.len())
                .filter(|&i| self.instances[i].rule == rule.id)
                .collect();
            order.sort_by_key(|&i| std::cmp::Reverse(self.instances[i].last));
            for i in order {
                if let Some(change) = accepts(rule, &self.instances[i], offer, facts) {
                    let inst = &mut self.instances[i];
                    apply(inst, rule, offer, change, facts, ctx);
                    inferred = infer_version(inst, rule, offer.vendor, facts);
                    self.report(ri, rules, ctx, i, out);
                    break 'rules;
                }
            }
            if let Some(step) = start_step(rule, offer.kind, facts) {
                self.make_room(ctx, lost);
                let no = self.next_no;
                self.next_no += 1;
                let mut inst = Instance {
                    no,
                    rule: rule.id.clone(),
                    id: alert_id(&self.device, &rule.id, sig),
                    reached: step,
                    step_times: vec![None; rule.steps.len()],
                    evidence: Vec::new(),
                    line_keys: LineKeys::default(),
                    first: sig.time,
                    last: sig.time,
                    image: None,
                    server: None,
                    version_before: None,
                    version_after: None,
                    version_inferred_from: None,
                    completed: None,
                    emitted: None,
                };
                inst.step_times[step] = Some(sig.time);
                add_evidence(&mut inst, rule, offer, facts, ctx);
                if step + 1 == rule.steps.len() {
                    inst.completed = Some(sig.time);
                }
                inferred = infer_version(&mut inst, rule, offer.vendor, facts);
                self.instances.push(inst);
                let i = self.instances.len() - 1;
                self.report(ri, rules, ctx, i, out);
                break 'rules;
            }
        }
        inferred
    }

    /// Fires what is due at `now`: timeout findings for stalled instances, and the end of
    /// lingering for completed ones.
    pub fn on_time(
        &mut self,
        rules: &SequenceRules,
        ctx: &Context<'_>,
        now: Millis,
        out: &mut Vec<Finding>,
    ) {
        let mut i = 0;
        while i < self.instances.len() {
            let inst = &self.instances[i];
            let Some(rule) = rule_of(rules, &inst.rule) else {
                self.instances.remove(i);
                continue;
            };
            if deadline(rule, inst) >= now {
                i += 1;
                continue;
            }
            let inst = self.instances.remove(i);
            if inst.completed.is_none()
                && let Some(t) = rule.timeout_for(inst.reached)
            {
                let waited = next_window(rule, &inst);
                out.push(summary::timed_out(
                    &self.device,
                    rule,
                    &inst,
                    ctx.allowlist,
                    t,
                    waited,
                    self.device_facts(),
                ));
            }
        }
        if let Some(flood) = &self.flood {
            let closed = flood.window_end() < now;
            let paused = flood.last.saturating_add(FLOOD_SETTLE) < now;
            if flood.total() > flood.reported && (closed || paused) {
                self.report_flood(ctx, out);
            }
            if closed {
                self.flood = None;
            }
        }
    }

    fn expire_lingering(&mut self, rules: &SequenceRules, now: Millis) {
        self.instances.retain(|inst| {
            inst.completed.is_none()
                || rule_of(rules, &inst.rule).is_some_and(|r| deadline(r, inst) >= now)
        });
    }

    /// Emits a finding for instance `i` if it is complete and says more than last time.
    fn report(
        &mut self,
        ri: usize,
        rules: &SequenceRules,
        ctx: &Context<'_>,
        i: usize,
        out: &mut Vec<Finding>,
    ) {
        let rule = &rules.sequences[ri];
        if self.instances[i].completed.is_none() {
            return;
        }
        let mut f = summary::finding(
            &self.device,
            rule,
            &self.instances[i],
            ctx.allowlist,
            self.device_facts(),
        );
        let inst = &mut self.instances[i];
        let reported = f.facts.version_after.is_some() && f.facts.version_inferred_from.is_none();
        let raised = match &inst.emitted {
            None => true,
            Some(e) => {
                f.severity > e.severity
                    || f.confidence > e.confidence + 1e-9
                    || (f.facts.version_after.is_some() && f.facts.version_after != e.version_after)
                    || (e.version_inferred && reported)
            }
        };
        if !raised {
            return;
        }
        let revision = inst.emitted.as_ref().map_or(1, |e| e.revision + 1);
        f.revision = revision;
        inst.emitted = Some(Emitted {
            revision,
            severity: f.severity,
            confidence: f.confidence,
            version_after: f.facts.version_after.clone(),
            version_inferred: f.facts.version_inferred_from.is_some(),
        });
        out.push(f);
    }
}

/// Version facts of one signal against the device's history.
struct VersionFacts {
    before: Option<String>,
    after: Option<String>,
    changed: bool,
    downgrade: bool,
    /// The signal creates an account through the web UI or an API.
    via_web_or_api: bool,
}

impl VersionFacts {
    fn of(dev: &DeviceMachine, booted: Option<&str>) -> VersionFacts {
        let before = dev
            .running
            .clone()
            .or_else(|| dev.baseline.as_ref().and_then(|b| b.version.clone()));
        let vendor = dev.vendor.as_deref();
        let (changed, downgrade) = match (before.as_deref(), booted) {
            (Some(b), Some(a)) => {
                let changed = !version::same(vendor, b, a);
                let downgrade =
                    changed && version::compare(vendor, a, b) == Some(std::cmp::Ordering::Less);
                (changed, downgrade)
            }
            _ => (false, false),
        };
        VersionFacts {
            before,
            after: booted.map(str::to_string),
            changed,
            downgrade,
            via_web_or_api: false,
        }
    }

    fn holds(&self, c: Condition) -> bool {
        match c {
            Condition::VersionChanged => self.changed,
            Condition::Downgrade => self.downgrade,
            Condition::ViaWebOrApi => self.via_web_or_api,
            // Evaluated over the whole instance, not per signal.
            Condition::ServerNotAllowlisted
            | Condition::NewPrivilegedAccess
            | Condition::OverwritesRunningImage => true,
        }
    }
}

/// A signal read as one of the kinds it stands for ([`SignalKind::correlates_as`]).
struct Offer<'a> {
    sig: &'a Signal,
    kind: SignalKind,
    /// The hint for reading a version out of an image name.
    vendor: Option<&'a str>,
    /// Not the first kind of the line: an instance that already holds the line as evidence
    /// does not get it twice.
    again: bool,
}

/// How a running instance takes a signal.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// The signal matches step `n` after the furthest one reached.
    Advance(usize),
    /// The signal repeats the furthest step, or is context: evidence only.
    Absorb,
    /// The signal arrived late for an optional step that was skipped.
    Fill(usize),
}

fn joins_ok(rule: &Sequence, inst: &Instance, sig: &Signal) -> bool {
    rule.same.iter().all(|f| match f {
        JoinField::Image => match (&inst.image, &sig.fields.image) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        },
        JoinField::Server => match (&inst.server, &sig.fields.server) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        },
    })
}

fn step_matches(rule: &Sequence, step: usize, kind: SignalKind, facts: &VersionFacts) -> bool {
    let s = &rule.steps[step];
    s.kinds.contains(&kind) && s.conditions.iter().all(|&c| facts.holds(c))
}

fn accepts(
    rule: &Sequence,
    inst: &Instance,
    offer: &Offer<'_>,
    facts: &VersionFacts,
) -> Option<Change> {
    let (sig, kind) = (offer.sig, offer.kind);
    if !joins_ok(rule, inst, sig) {
        return None;
    }
    let last_step_time = inst.step_times[inst.reached].unwrap_or(inst.last);
    if inst.completed.is_none() {
        // Forward: the next steps, skipping optional ones.
        for j in inst.reached + 1..rule.steps.len() {
            if step_matches(rule, j, kind, facts) {
                let within = rule.steps[j].within.unwrap_or(Millis::MAX);
                if sig.time >= last_step_time && sig.time - last_step_time <= within {
                    return Some(Change::Advance(j));
                }
                break;
            }
            if !rule.steps[j].optional {
                break;
            }
        }
    }
    // Late: an optional step skipped earlier, if the signal fits in time before the next one.
    for j in 0..inst.reached {
        if inst.step_times[j].is_none()
            && rule.steps[j].optional
            && step_matches(rule, j, kind, facts)
        {
            let next = inst.step_times[j + 1..].iter().flatten().next().copied();
            if next.is_some_and(|n| sig.time <= n) {
                return Some(Change::Fill(j));
            }
        }
    }
    // Evidence only: a repeat of the furthest step (a second boot line) or a context kind.
    let repeat = rule.steps[inst.reached].kinds.contains(&kind);
    if repeat || rule.context.contains(&kind) {
        return Some(Change::Absorb);
    }
    None
}

fn start_step(rule: &Sequence, kind: SignalKind, facts: &VersionFacts) -> Option<usize> {
    (0..=rule.last_start_step()).find(|&i| step_matches(rule, i, kind, facts))
}

fn apply(
    inst: &mut Instance,
    rule: &Sequence,
    offer: &Offer<'_>,
    change: Change,
    facts: &VersionFacts,
    ctx: &Context<'_>,
) {
    let sig = offer.sig;
    match change {
        Change::Advance(j) => {
            inst.reached = j;
            inst.step_times[j] = Some(sig.time);
            if j + 1 == rule.steps.len() {
                inst.completed = Some(sig.time);
            }
        }
        Change::Fill(j) => inst.step_times[j] = Some(sig.time),
        Change::Absorb => {}
    }
    add_evidence(inst, rule, offer, facts, ctx);
}

fn add_evidence(
    inst: &mut Instance,
    rule: &Sequence,
    offer: &Offer<'_>,
    facts: &VersionFacts,
    ctx: &Context<'_>,
) {
    let sig = offer.sig;
    for f in &rule.same {
        match f {
            JoinField::Image if inst.image.is_none() => inst.image = sig.fields.image.clone(),
            JoinField::Server if inst.server.is_none() => inst.server = sig.fields.server.clone(),
            _ => {}
        }
    }
    if facts.after.is_some() {
        if inst.version_before.is_none() {
            inst.version_before = facts.before.clone();
        }
        inst.version_after = facts.after.clone();
        inst.version_inferred_from = None;
    }
    inst.first = inst.first.min(sig.time);
    inst.last = inst.last.max(sig.time);
    if offer.again
        && inst
            .evidence
            .iter()
            .any(|e| e.time == sig.time && e.rule_id == sig.rule_id && e.message == sig.message)
    {
        return;
    }
    let pos = inst.evidence.partition_point(|e| e.time <= sig.time);
    inst.line_keys
        .insert(&mut inst.evidence, pos, Evidence::of(sig));
    let cap = ctx.max_evidence.max(2);
    while inst.evidence.len() > cap {
        // Keep the first line (what started the sequence), the lines that matched a step and
        // the latest; drop the earliest of the others.
        let last = inst.evidence.len() - 1;
        let victim = (1..last)
            .find(|&i| !is_step_evidence(rule, inst, &inst.evidence[i]))
            .unwrap_or(1);
        inst.line_keys.remove(&mut inst.evidence, victim);
        ctx.evidence_dropped.set(ctx.evidence_dropped.get() + 1);
    }
}

/// True when `e` is the line that matched one of the instance's steps.
fn is_step_evidence(rule: &Sequence, inst: &Instance, e: &Evidence) -> bool {
    inst.step_times.iter().zip(&rule.steps).any(|(t, step)| {
        *t == Some(e.time)
            && e.kind
                .correlates_as()
                .iter()
                .any(|k| step.kinds.contains(k))
    })
}

/// At a boot that reported no version, the version the staged image's file name carries (the
/// instance's joined image, else the latest image its evidence named): some platforms never
/// log the version they run, and the name is the best evidence left. Sets the instance's
/// versions, marked as inferred, and returns the version; None when the instance is not
/// complete, already knows the version booted, or no image name can be read.
fn infer_version(
    inst: &mut Instance,
    rule: &Sequence,
    vendor: Option<&str>,
    facts: &VersionFacts,
) -> Option<String> {
    let boot_step = rule.steps.last()?;
    if inst.completed.is_none()
        || inst.version_after.is_some()
        || facts.after.is_some()
        || !boot_step.reports_version()
    {
        return None;
    }
    let image = inst.image.clone().or_else(|| {
        inst.evidence
            .iter()
            .rev()
            .find_map(|e| e.fields.image.clone())
    })?;
    let v = version::version_from_image(vendor, &image)?;
    if inst.version_before.is_none() {
        inst.version_before = facts.before.clone();
    }
    inst.version_after = Some(v.clone());
    inst.version_inferred_from = Some(image);
    Some(v)
}

fn rule_of<'a>(rules: &'a SequenceRules, id: &str) -> Option<&'a Sequence> {
    rules.sequences.iter().find(|s| s.id == id)
}

/// Longest wait for the next step of a running instance.
fn next_window(rule: &Sequence, inst: &Instance) -> Millis {
    let mut w = 0;
    for j in inst.reached + 1..rule.steps.len() {
        w = w.max(rule.steps[j].within.unwrap_or(0));
        if !rule.steps[j].optional {
            break;
        }
    }
    w
}

/// When a running instance times out, or a completed one stops lingering.
fn deadline(rule: &Sequence, inst: &Instance) -> Millis {
    match inst.completed {
        Some(done) => done.saturating_add(rule.linger),
        None => inst.step_times[inst.reached]
            .unwrap_or(inst.last)
            .saturating_add(next_window(rule, inst)),
    }
}

fn flood_id(device: &str, since: Millis) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1f_6a0e_3b1e_4d7a_9c51_1601_a000_0002);
    let key = format!("{device}\u{0}{EVIDENCE_DROPPED_RULE}\u{0}{since}");
    uuid::Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string()
}

fn alert_id(device: &str, rule: &str, sig: &Signal) -> String {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1f_6a0e_3b1e_4d7a_9c51_1601_a000_0001);
    let key = format!("{device}\u{0}{rule}\u{0}{}\u{0}{}", sig.time, sig.message);
    uuid::Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalFields;
    use crate::time::{HOUR, MINUTE};

    fn rules() -> SequenceRules {
        crate::config::RuleSource::Builtin
            .sequences()
            .expect("shipped rules load")
    }

    fn sig(kind: SignalKind, t: Millis, fields: SignalFields) -> Signal {
        Signal {
            device: "rtr-1".into(),
            time: t,
            received: Some(t + 300),
            time_source: Default::default(),
            time_reason: Default::default(),
            kind,
            rule_id: format!("test.{kind}"),
            vendor: "cisco_ios".into(),
            sender: None,
            fields,
            fingerprint: t as u64,
            message: format!("{kind} at {t}"),
            origin: Default::default(),
        }
    }

    fn image(name: &str) -> SignalFields {
        SignalFields {
            image: Some(name.into()),
            server: Some("10.10.0.5".into()),
            ..Default::default()
        }
    }

    fn version(v: &str) -> SignalFields {
        SignalFields {
            version: Some(v.into()),
            ..Default::default()
        }
    }

    fn machine() -> DeviceMachine {
        DeviceMachine::new(
            "rtr-1",
            Some("cisco_ios".into()),
            Some(Baseline {
                version: Some("15.7(3)M8".into()),
                image: None,
                source: BaselineSource::Inventory,
                since: None,
            }),
        )
    }

    fn allow() -> crate::calendar::Allowlist {
        crate::calendar::Allowlist {
            servers: vec!["10.10.0.5".into()],
        }
    }

    #[test]
    fn full_chain_fires_once_and_a_later_version_raises_a_revision() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, 0, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, 10 * MINUTE, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Reload, 20 * MINUTE, SignalFields::default()),
            &mut out,
        );
        assert!(out.is_empty(), "no finding before the boot");
        // The boot-time line without a version completes the chain first ...
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 30 * MINUTE, SignalFields::default()),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].revision, 1);
        assert_eq!(out[0].rule_id, "t1601.image_replaced");
        assert_eq!(out[0].severity, Severity::High);
        // ... the banner with a lower version then raises it: same id, next revision.
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 31 * MINUTE, version("15.5(3)M10")),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].id, out[0].id);
        assert_eq!(out[1].revision, 2);
        assert_eq!(
            out[1].severity,
            Severity::Critical,
            "a downgrade is critical"
        );
        assert!(out[1].facts.downgrade);
        // A repeat that raises nothing emits nothing.
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 32 * MINUTE, version("15.5(3)M10")),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(m.running.as_deref(), Some("15.5(3)M10"));
    }

    /// FortiGate and PAN-OS log the running version in a line of its own after the start-up
    /// line: the finding the start-up line completed is reported again with the version,
    /// though severity and confidence stay the same.
    #[test]
    fn a_version_line_after_the_boot_line_is_reported() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        let steps = [
            (SignalKind::Transfer, 0, image("x.bin")),
            (SignalKind::InstallActivate, 10 * MINUTE, image("x.bin")),
            (SignalKind::Reload, 20 * MINUTE, SignalFields::default()),
            (SignalKind::Boot, 30 * MINUTE, SignalFields::default()),
        ];
        for (kind, t, fields) in steps {
            m.on_signal(&rules, &ctx, &sig(kind, t, fields), &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].facts.version_after, None);
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Version, 31 * MINUTE, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 2, "the version is news");
        assert_eq!(
            (out[1].id.as_str(), out[1].revision),
            (out[0].id.as_str(), 2)
        );
        assert_eq!(out[1].severity, out[0].severity);
        assert_eq!(out[1].facts.version_after.as_deref(), Some("15.7(3)M9"));
        // The same version again is not.
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Version, 32 * MINUTE, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn staged_image_times_out_into_a_medium_finding() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, 0, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, HOUR, image("x.bin")),
            &mut out,
        );
        let deadline = m.deadlines(&rules).iter().map(|d| d.0).min().unwrap();
        assert_eq!(deadline, HOUR + 24 * HOUR);
        m.on_time(&rules, &ctx, deadline, &mut out);
        assert!(out.is_empty(), "not yet at the deadline itself");
        m.on_time(&rules, &ctx, deadline + 1, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule_id, "t1601.image_staged");
        assert_eq!(out[0].severity, Severity::Medium);
        assert!(m.instances.is_empty());
    }

    #[test]
    fn different_image_starts_its_own_instance() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, 0, image("a.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, MINUTE, image("b.bin")),
            &mut out,
        );
        assert_eq!(m.instances.len(), 2, "the join on image keeps them apart");
    }

    #[test]
    fn late_transfer_fills_the_skipped_optional_step() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, 10 * MINUTE, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, 5 * MINUTE, image("x.bin")),
            &mut out,
        );
        assert_eq!(m.instances.len(), 1);
        assert_eq!(m.instances[0].step_times[0], Some(5 * MINUTE));
        assert_eq!(m.instances[0].first, 5 * MINUTE);
    }

    #[test]
    fn version_change_without_transfer_and_same_version_boot() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 0, version("15.7(3)M8")),
            &mut out,
        );
        assert!(out.is_empty(), "same version: nothing to say");
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, HOUR, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule_id, "t1601.version_changed");
        assert_eq!(out[0].severity, Severity::High);
    }

    #[test]
    fn evidence_is_capped_and_the_alert_still_names_what_started_it() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, 8);
        let mut m = machine();
        let mut out = Vec::new();
        let bad = || SignalFields {
            image: Some("x.bin".into()),
            server: Some("203.0.113.45".into()),
            user: Some("jdoe".into()),
            ..Default::default()
        };
        m.on_signal(&rules, &ctx, &sig(SignalKind::Transfer, 0, bad()), &mut out);
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, MINUTE, bad()),
            &mut out,
        );
        // A hostile device repeats the boot variable line a thousand times.
        for i in 0..1000 {
            let t = 2 * MINUTE + i * 100;
            m.on_signal(&rules, &ctx, &sig(SignalKind::BootVar, t, bad()), &mut out);
            assert!(m.instances[0].evidence.len() <= 8);
        }
        assert!(m.recent.len() <= 8);
        assert_eq!(ctx.evidence_dropped.get(), 1002 - 8);
        // The loss is a finding of its own (tested below); here, the sequence's.
        assert!(out.iter().all(|f| f.rule_id == EVIDENCE_DROPPED_RULE));
        out.clear();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Reload, 30 * MINUTE, SignalFields::default()),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 40 * MINUTE, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.rule_id, "t1601.image_replaced");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence.len(), 8);
        let kinds: Vec<SignalKind> = f.evidence.iter().map(|e| e.kind).collect();
        assert_eq!(kinds[0], SignalKind::Transfer, "the first line is kept");
        assert_eq!(kinds[1], SignalKind::BootVar, "the step's line is kept");
        assert_eq!(&kinds[6..], &[SignalKind::Reload, SignalKind::Boot]);
        assert_eq!(f.first_seen, 0);
        assert!(f.summary.contains("203.0.113.45") && f.summary.contains("jdoe"));
    }

    /// A device that keeps starting sequences (transfers of a thousand distinct images) keeps
    /// at most `max_pending` instances; the newest sequence still completes and alerts.
    #[test]
    fn pending_instances_per_device_are_capped() {
        let rules = rules();
        let allow = allow();
        let mut ctx = Context::new(&allow, 8);
        ctx.max_pending = 4;
        let mut m = machine();
        let mut out = Vec::new();
        let image = |n: i64| SignalFields {
            image: Some(format!("x{n}.bin")),
            server: Some("203.0.113.45".into()),
            ..Default::default()
        };
        for n in 0..1000 {
            m.on_signal(
                &rules,
                &ctx,
                &sig(SignalKind::Transfer, n * 100, image(n)),
                &mut out,
            );
            assert!(m.instances.len() <= 4, "{} instances", m.instances.len());
        }
        assert!(
            out.iter().all(|f| f.rule_id == EVIDENCE_DROPPED_RULE),
            "{out:?}"
        );
        out.clear();
        assert_eq!(
            ctx.evidence_dropped.get(),
            1000 - 4,
            "one line per dropped instance"
        );
        let t = 200 * MINUTE;
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, t, image(999)),
            &mut out,
        );
        let reload = SignalFields::default();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Reload, t + MINUTE, reload),
            &mut out,
        );
        let boot = version("15.7(3)M9");
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, t + 2 * MINUTE, boot),
            &mut out,
        );
        let rules_hit: Vec<&str> = out.iter().map(|f| f.rule_id.as_str()).collect();
        assert!(rules_hit.contains(&"t1601.image_replaced"), "{rules_hit:?}");
        let f = out
            .iter()
            .find(|f| f.rule_id == "t1601.image_replaced")
            .unwrap();
        assert_eq!(f.evidence[0].kind, SignalKind::Transfer);
        assert!(f.summary.contains("x999.bin"), "{}", f.summary);
    }

    /// NX-OS `install all` / Junos `software add … reboot`: one line that stages the image and
    /// reloads the device. Alone it is staged and reloaded (its timeout says so); a boot
    /// completes it; after a transfer it continues that transfer's instance; its line is
    /// evidence once.
    #[test]
    fn an_install_that_reloads_by_itself_is_a_stage_and_a_reload() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut out = Vec::new();

        let mut m = machine();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::InstallReload, 0, image("x.bin")),
            &mut out,
        );
        assert_eq!(m.instances.len(), 1);
        let inst = &m.instances[0];
        assert_eq!(inst.rule, "t1601.image_replaced");
        assert_eq!(inst.step_times, vec![None, Some(0), Some(0), None]);
        assert_eq!(inst.evidence.len(), 1, "one line, one piece of evidence");
        let deadline = m.deadlines(&rules)[0].0;
        m.on_time(&rules, &ctx, deadline + 1, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule_id, "t1601.image_staged_reloaded");
        assert_eq!(out[0].severity, Severity::Medium);

        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, 0, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::InstallReload, 10 * MINUTE, image("x.bin")),
            &mut out,
        );
        assert_eq!(m.instances.len(), 1, "the transfer's instance takes it");
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 30 * MINUTE, SignalFields::default()),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rule_id, "t1601.image_replaced");
        assert_eq!(out[0].facts.steps, ["transfer", "stage", "reload", "boot"]);
        let kinds: Vec<SignalKind> = out[0].evidence.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                SignalKind::Transfer,
                SignalKind::InstallReload,
                SignalKind::Boot
            ]
        );
    }

    /// The real sequence start, then a thousand decoy starts that push it out: the loss raises
    /// one finding (one id) for the device, high and never suppressed, that names the device,
    /// says how much was dropped and keeps the real start's line; its revisions stay few and
    /// the last one, once the flood pauses, carries the full count.
    #[test]
    fn a_flood_of_sequence_starts_raises_one_evidence_dropped_finding() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, 8);
        let mut m = machine();
        let mut out = Vec::new();
        let real = SignalFields {
            image: Some("implant.bin".into()),
            server: Some("198.51.100.7".into()),
            ..Default::default()
        };
        m.on_signal(&rules, &ctx, &sig(SignalKind::Transfer, 0, real), &mut out);
        for n in 1..=1000 {
            let decoy = SignalFields {
                image: Some(format!("decoy{n}.bin")),
                ..Default::default()
            };
            m.on_signal(
                &rules,
                &ctx,
                &sig(SignalKind::Transfer, n * 100, decoy),
                &mut out,
            );
        }
        let dropped = 1001 - DEFAULT_MAX_PENDING as u64;
        assert!(out.iter().all(|f| f.rule_id == EVIDENCE_DROPPED_RULE));
        assert!(out.iter().all(|f| f.id == out[0].id), "one finding");
        let revisions: Vec<u32> = out.iter().map(|f| f.revision).collect();
        assert_eq!(revisions, [1, 2, 3], "at 1, 10 and 100 lines dropped");
        let first = out[0].clone();
        assert_eq!(first.severity, Severity::High);
        assert!(first.never_suppress);
        assert_eq!(first.device, "rtr-1");
        assert!(first.summary.contains("rtr-1"), "{}", first.summary);
        assert_eq!(
            first.evidence[0].fields.image.as_deref(),
            Some("implant.bin")
        );
        assert!(first.facts.images.iter().any(|i| i == "implant.bin"));
        // The flood pauses: its report is due a minute after the last loss, with the count.
        let (due, no) = *m.deadlines(&rules).iter().max_by_key(|d| d.1).unwrap();
        assert_eq!((due, no), (100_000 + FLOOD_SETTLE, FLOOD_TIMER));
        m.on_time(&rules, &ctx, due + 1, &mut out);
        assert_eq!(out.len(), 4);
        let last = &out[3];
        assert_eq!((last.id.as_str(), last.revision), (first.id.as_str(), 4));
        let words = format!("{dropped} pending sequence instances and {dropped} evidence lines");
        assert!(last.summary.contains(&words), "{}", last.summary);
        assert_eq!(last.evidence.len(), 8, "capped at max_evidence");
        assert_eq!(
            last.evidence[0].fields.image.as_deref(),
            Some("implant.bin")
        );
        // Nothing more to say until the window closes; then a new loss opens a new finding.
        let end = first.first_seen + FLOOD_WINDOW;
        assert_eq!(m.deadlines(&rules).last(), Some(&(end, FLOOD_TIMER)));
        m.on_time(&rules, &ctx, end, &mut out);
        assert_eq!(out.len(), 4);
        assert!(m.flood.is_some());
        m.on_time(&rules, &ctx, end + 1, &mut out);
        assert!(m.flood.is_none());
        let t = end + 2;
        for n in 0..DEFAULT_MAX_PENDING as i64 + 1 {
            let f = SignalFields {
                image: Some(format!("late{n}.bin")),
                ..Default::default()
            };
            m.on_signal(&rules, &ctx, &sig(SignalKind::Transfer, t + n, f), &mut out);
        }
        assert_eq!(out.len(), 6, "at 1 and 10 lines dropped");
        assert_ne!(out[4].id, first.id, "a new window, a new finding");
        assert_eq!((out[4].revision, out[5].revision), (1, 2));
        assert_eq!(out[5].id, out[4].id);
    }

    /// Evidence lines dropped at `max_evidence` (a line repeated a thousand times) are a loss
    /// too, even when no instance is dropped.
    #[test]
    fn evidence_lines_dropped_at_the_cap_raise_the_finding() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, 8);
        let mut m = machine();
        let mut out = Vec::new();
        for i in 0..20 {
            let f = image("x.bin");
            m.on_signal(
                &rules,
                &ctx,
                &sig(SignalKind::BootVar, i * 100, f),
                &mut out,
            );
        }
        assert_eq!(m.instances.len(), 1);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out.iter().all(|f| f.rule_id == EVIDENCE_DROPPED_RULE));
        assert!(
            out[1]
                .summary
                .contains("0 pending sequence instances and 10 evidence lines")
        );
    }

    /// A platform that never logs its version: the boot that completes the sequence takes
    /// the version from the staged image's name, says so, and a version the device reports
    /// later replaces it.
    #[test]
    fn a_boot_without_a_version_takes_it_from_the_staged_image_name() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = DeviceMachine::new(
            "rtr-1",
            Some("juniper_junos".into()),
            Some(Baseline {
                version: Some("21.4R3-S5.4".into()),
                image: None,
                source: BaselineSource::Inventory,
                since: None,
            }),
        );
        let mut out = Vec::new();
        let pkg = "junos-vmhost-install-mx-x86-64-22.4R3.25.tgz";
        let steps = [
            (SignalKind::Transfer, 0, image(pkg)),
            (SignalKind::InstallAdd, 5 * MINUTE, image(pkg)),
            (SignalKind::Reload, 10 * MINUTE, SignalFields::default()),
            (SignalKind::Boot, 20 * MINUTE, SignalFields::default()),
        ];
        for (kind, t, fields) in steps {
            m.on_signal(&rules, &ctx, &sig(kind, t, fields), &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        let f = &out[0];
        assert_eq!(f.rule_id, "t1601.image_replaced");
        assert!(f.severity >= Severity::Medium);
        assert_eq!(f.facts.version_after.as_deref(), Some("22.4R3.25"));
        assert_eq!(f.facts.version_inferred_from.as_deref(), Some(pkg));
        assert!(f.facts.version_changed && !f.facts.downgrade);
        assert!(
            f.summary.contains(&format!(
                "booted 22.4R3.25 (version inferred from image name {pkg}, was 21.4R3-S5.4)"
            )),
            "{}",
            f.summary
        );
        assert_eq!(m.running.as_deref(), Some("22.4R3.25"));
        assert_eq!(
            m.baseline.as_ref().and_then(|b| b.version.as_deref()),
            Some("21.4R3-S5.4"),
            "a baseline is never learned from a name"
        );
        // The device reports an older version after all: the report wins and raises it.
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Version, 25 * MINUTE, version("21.2R3-S1.3")),
            &mut out,
        );
        let last = out.last().unwrap();
        assert_eq!(last.facts.version_after.as_deref(), Some("21.2R3-S1.3"));
        assert_eq!(last.facts.version_inferred_from, None);
        assert_eq!(last.severity, Severity::Critical);
    }

    /// A device that logs ordinary lines before its boot banner: the first completes the
    /// sequence with an inferred version, the banner's own version follows as a new revision
    /// even though it raises nothing.
    #[test]
    fn a_reported_version_after_an_inferred_one_is_a_new_revision() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        let img = "c2900-universalk9-mz.SPA.157-3.M9.bin";
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, 0, image(img)),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Reload, MINUTE, SignalFields::default()),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 6 * MINUTE, SignalFields::default()),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 7 * MINUTE, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].facts.version_inferred_from.as_deref(), Some(img));
        assert_eq!(
            (out[1].id.as_str(), out[1].revision),
            (out[0].id.as_str(), 2)
        );
        assert_eq!(out[1].severity, out[0].severity);
        assert_eq!(out[1].facts.version_after.as_deref(), Some("15.7(3)M9"));
        assert_eq!(out[1].facts.version_inferred_from, None);
        // Repeats of the banner say nothing new.
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, 8 * MINUTE, version("15.7(3)M9")),
            &mut out,
        );
        assert_eq!(out.len(), 2);
    }

    /// With no readable image name there is nothing to infer: the boot still completes the
    /// sequence, with the version left unknown.
    #[test]
    fn an_unreadable_image_name_leaves_the_version_unknown() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let mut m = machine();
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, 0, image("x.bin")),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, MINUTE, SignalFields::default()),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].facts.version_after, None);
        assert_eq!(out[0].facts.version_inferred_from, None);
        assert_eq!(m.running.as_deref(), Some("15.7(3)M8"));
    }

    /// A transfer written over the file the device runs (the inventory's baseline image) makes
    /// the image finding critical and says so; the same image after an authorised change (the
    /// baseline moved to it) does not.
    #[test]
    fn overwriting_the_running_image_is_critical() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let running = "c2900-universalk9-mz.SPA.157-3.M8.bin";
        let mut m = machine();
        m.baseline.as_mut().unwrap().image = Some(running.into());
        let mut out = Vec::new();
        for (kind, t, f) in [
            (SignalKind::Transfer, 0, image(running)),
            (SignalKind::BootVar, MINUTE, image(running)),
            (SignalKind::Boot, 10 * MINUTE, version("15.7(3)M8")),
        ] {
            m.on_signal(&rules, &ctx, &sig(kind, t, f), &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].severity, Severity::Critical);
        assert!(out[0].facts.overwrites_running_image);
        assert!(
            out[0].summary.contains("the file the device runs"),
            "{}",
            out[0].summary
        );

        let mut m = machine();
        m.baseline.as_mut().unwrap().image = Some(running.into());
        m.authorise(None, Some(running), -HOUR);
        let mut out = Vec::new();
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Transfer, -2 * HOUR, image(running)),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::BootVar, 0, image(running)),
            &mut out,
        );
        m.on_signal(
            &rules,
            &ctx,
            &sig(SignalKind::Boot, MINUTE, version("15.7(3)M8")),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].severity,
            Severity::High,
            "written before it became the running one"
        );
    }

    /// A privileged login from a source the device has not seen, then image work: critical,
    /// naming the account and the source, the login among the evidence; the same work after a
    /// login from a known source stays high.
    #[test]
    fn new_privileged_access_before_image_work_is_critical() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let login = |src: &str| SignalFields {
            user: Some("jsmith".into()),
            src: Some(src.into()),
            ..Default::default()
        };
        for (src, want) in [
            ("10.30.1.5", Severity::High),
            ("203.0.113.9", Severity::Critical),
        ] {
            let mut m = machine();
            let mut out = Vec::new();
            let steps = [
                (SignalKind::PrivilegedLogin, -HOUR, login("10.30.1.5")),
                (SignalKind::PrivilegedLogin, 0, login(src)),
                (SignalKind::BootVar, MINUTE, image("x.bin")),
                (SignalKind::Boot, 10 * MINUTE, version("15.7(3)M9")),
            ];
            for (kind, t, f) in steps {
                m.on_signal(&rules, &ctx, &sig(kind, t, f), &mut out);
            }
            assert_eq!(out.len(), 1, "{out:?}");
            assert_eq!(out[0].severity, want, "{src}");
            let named = out[0]
                .summary
                .contains("privileged access by jsmith from 203.0.113.9");
            assert_eq!(named, want == Severity::Critical, "{}", out[0].summary);
            let logins = out[0]
                .evidence
                .iter()
                .filter(|e| e.kind == SignalKind::PrivilegedLogin);
            assert_eq!(logins.count(), usize::from(want == Severity::Critical));
            assert!(m.access.as_ref().unwrap().sources.len() <= access::MAX_KNOWN);
        }
    }

    /// Only what a restart must keep asks for a write: the first login teaches the device its
    /// sources, a new source or account is news, a routine login again is not, image work is.
    #[test]
    fn a_routine_login_asks_for_no_write() {
        let rules = rules();
        let allow = allow();
        let ctx = Context::new(&allow, DEFAULT_MAX_EVIDENCE);
        let login = |user: &str, src: &str| SignalFields {
            user: Some(user.into()),
            src: Some(src.into()),
            ..Default::default()
        };
        let mut m = machine();
        let mut out = Vec::new();
        let mut changed = |kind, t, f| m.on_signal(&rules, &ctx, &sig(kind, t, f), &mut out);
        assert!(changed(
            SignalKind::PrivilegedLogin,
            0,
            login("ops", "10.30.1.5")
        ));
        assert!(!changed(
            SignalKind::PrivilegedLogin,
            MINUTE,
            login("ops", "10.30.1.5")
        ));
        assert!(!changed(
            SignalKind::PrivilegeChange,
            2 * MINUTE,
            login("OPS", "10.30.1.5")
        ));
        assert!(changed(
            SignalKind::PrivilegedLogin,
            3 * MINUTE,
            login("ops", "10.30.1.6")
        ));
        assert!(changed(
            SignalKind::PrivilegedLogin,
            4 * MINUTE,
            login("eve", "10.30.1.6")
        ));
        assert!(changed(SignalKind::BootVar, 5 * MINUTE, image("x.bin")));
    }

    #[test]
    fn duplicate_fingerprints_are_recognised() {
        let mut m = machine();
        assert!(m.first_delivery(5, 42));
        assert!(!m.first_delivery(5, 42));
        assert!(m.first_delivery(6, 42));
    }
}
