//! Engine workers: each owns the machines of the devices that hash to it, so the per-line path
//! takes no lock. Time comes from the wall clock (a tick), so timeouts fire on a quiet feed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::pipeline::Engine;
use crate::source::Job;
use crate::suppress::Alert;
use crate::time::now_ms;

use super::Shared;
use crate::telemetry::TransportLabel;

/// How often a worker looks at the clock.
pub const TICK: Duration = Duration::from_millis(50);

/// Jobs taken from the queue at once at most (one state flush for all of them). After a full
/// batch the worker yields, so a flood cannot starve the API and the sinks of the runtime's
/// threads.
const BATCH: usize = 64;

/// Applies one job to the engine.
fn take(
    engine: &mut Engine,
    job: Job,
    shared: &Shared,
    syncs: &mut Vec<oneshot::Sender<()>>,
    accepted: &mut bool,
) {
    match job {
        Job::Signal(s, transport) => {
            shared.metrics.queue_depth.dec();
            shared
                .metrics
                .lines_processed
                .get_or_create(&TransportLabel { transport })
                .inc();
            engine.observe(now_ms());
            let version = s.fields.version.is_some();
            shared
                .sightings
                .signal(&s.device, s.kind, &s.vendor, version);
            if let Err(e) = engine.accept(*s) {
                tracing::error!(error = %e, "Cannot store an accepted signal; it is lost.");
            }
            *accepted = true;
        }
        Job::Reconfigure(rules, calendar) => engine.reconfigure(rules, calendar),
        Job::Sync(done) => syncs.push(done),
    }
}

pub async fn run(
    mut engine: Engine,
    mut jobs: mpsc::Receiver<Job>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alerts: Vec<Alert> = Vec::new();
    let mut last_checkpoint = now_ms();
    // This worker's share of the in-memory gauge.
    let mut in_memory = 0i64;
    loop {
        let mut syncs = Vec::new();
        let mut accepted = false;
        // Before the job: `accept` counts duplicate deliveries.
        let before = engine.stats.clone();
        let mut taken = 0;
        tokio::select! {
            job = jobs.recv() => match job {
                // What else is queued goes with it (up to BATCH), so one flush covers them
                // all: a flood drains at the engine's pace, not at one flush per signal.
                Some(job) => {
                    let mut next = Some(job);
                    while let Some(job) = next.take() {
                        take(&mut engine, job, &shared, &mut syncs, &mut accepted);
                        taken += 1;
                        if taken < BATCH {
                            next = jobs.try_recv().ok();
                        }
                    }
                }
                None => break,
            },
            _ = tick.tick() => engine.observe(now_ms()),
            _ = stop.cancelled(), if jobs.is_empty() => break,
        }
        if let Err(e) = engine.advance(&mut alerts) {
            tracing::error!(error = %e, "State store failed while processing; alerts may be late.");
        }
        if !syncs.is_empty()
            && let Err(e) = engine.write_all()
        {
            // Whoever waits (a reload, the API) reads machines from the store.
            tracing::error!(error = %e, "State store failed while writing machines.");
        }
        let changed = engine.take_changed();
        if accepted || changed || !alerts.is_empty() {
            // Durable before the sinks see it: an accepted signal, a machine change, an alert
            // in the outbox (queued by the engine's alert hook) survive a kill -9 from here on.
            // The API reads machines from the store; one it shows before this flush is
            // reproduced after a crash from the stored reorder buffer, whose entry is removed
            // only after the machine is written.
            if let Err(e) = engine.store().flush() {
                tracing::error!(error = %e, "Cannot flush the state store.");
            }
            shared.outbox.notify();
        }
        let m = &shared.metrics;
        m.duplicates
            .inc_by(engine.stats.duplicates - before.duplicates);
        m.devices_evicted
            .inc_by(engine.stats.evicted - before.evicted);
        m.devices_loaded.inc_by(engine.stats.loaded - before.loaded);
        m.evidence_dropped
            .inc_by(engine.stats.evidence_dropped - before.evidence_dropped);
        let resident = engine.correlator().in_memory() as i64;
        m.devices_in_memory.inc_by(resident - in_memory);
        in_memory = resident;
        m.findings.inc_by(engine.stats.findings - before.findings);
        for alert in alerts.drain(..) {
            m.alerts.inc();
            if alert.suppressed {
                m.suppressed.inc();
            }
            tracing::info!(alert = %alert.id, revision = alert.revision, device = %alert.device, rule = %alert.rule_id, severity = alert.severity.as_str(), suppressed = alert.suppressed, "Alert.");
        }
        for done in syncs {
            let _ = done.send(());
        }
        if taken == BATCH {
            tokio::task::yield_now().await;
        }
        if now_ms() - last_checkpoint > 1000 {
            last_checkpoint = now_ms();
            let _ = engine.checkpoint();
        }
    }
    if let Err(e) = engine.write_all() {
        tracing::error!(error = %e, "State store failed while writing machines at shutdown.");
    }
    let _ = engine.checkpoint();
    let _ = engine.store().flush();
}
