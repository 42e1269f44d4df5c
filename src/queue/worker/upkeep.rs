//! The worker's upkeep beside its slots: heartbeats and lease renewal, promotion of due
//! retries, recovery of dead workers' tasks, worker-set cleaning and the reconcile hook.

use super::*;

impl<C: Clone + Send + Sync + 'static> Shared<C> {
    pub(super) async fn background(self: Arc<Self>, slots: Vec<String>, stop: CancellationToken) {
        let mut hb = tokio::time::interval(self.opts.heartbeat_every());
        hb.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut maint = tokio::time::interval(self.opts.maintenance_every);
        maint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_clean = Some(Instant::now());
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = hb.tick() => self.heartbeat(&slots).await,
                _ = maint.tick() => self.maintain(&mut last_clean).await,
            }
        }
    }

    pub(super) async fn heartbeat(&self, slots: &[String]) {
        let o = &self.opts;
        match &self.backend {
            QueueBackend::Redis(r) => {
                let beats = slots.iter().map(|s| {
                    let claim = self.lock_inflight().get(s).cloned();
                    async move {
                        let res = r
                            .heartbeat(s, claim.as_ref(), o.lease, o.worker_ttl())
                            .await;
                        (s, claim, res)
                    }
                });
                for (s, claim, res) in futures_util::future::join_all(beats).await {
                    match res {
                        Ok(Some(true)) => {}
                        Ok(Some(false)) => {
                            // The task may simply have finished meanwhile; only a task still
                            // running here has really lost its lease.
                            let still = claim.filter(|c| {
                                self.lock_inflight().get(s).is_some_and(|now| {
                                    now.execution_id == c.execution_id && now.env.id == c.env.id
                                })
                            });
                            if let Some(c) = still {
                                tracing::warn!(worker = %s, task = %c.env.id, "lease of the running task was lost");
                            }
                        }
                        Ok(None) => {
                            tracing::warn!(worker = %s, "worker hash expired; registering again");
                            if let Err(e) = r.register_worker(s, &o.queues, o.worker_ttl()).await {
                                tracing::warn!(worker = %s, error = %e, "could not register again");
                            }
                        }
                        Err(e) => tracing::warn!(worker = %s, error = %e, "heartbeat failed"),
                    }
                }
            }
            QueueBackend::Local(l) => {
                let until = Utc::now() + o.lease;
                let ids: Vec<_> = self
                    .lock_inflight()
                    .values()
                    .map(|c| c.env.task_id)
                    .collect();
                for id in ids {
                    if let Err(e) = l.store().renew(id, until).await {
                        tracing::warn!(task_id = %id, error = %e, "lease renewal failed");
                    }
                }
            }
        }
    }

    /// Promotes due retries and recovers tasks of dead workers; `last_clean` (None = skip)
    /// paces the worker-set cleaning.
    pub(super) async fn maintain(&self, last_clean: &mut Option<Instant>) {
        let o = &self.opts;
        match &self.backend {
            QueueBackend::Redis(r) => {
                match r.promote_due(&o.queues).await {
                    Ok(n) if n > 0 => tracing::debug!(count = n, "promoted due retries"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "promoting due retries failed"),
                }
                match r.recover(&o.queues, o.intermediate_grace).await {
                    Ok(items) => {
                        for item in items {
                            self.after_recovery(item).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "recovery sweep failed"),
                }
                self.reconcile().await;
                if let Some(t) = last_clean {
                    if t.elapsed() >= CLEAN_WORKERS_EVERY {
                        *t = Instant::now();
                        if let Err(e) = r.clean_workers(&o.queues).await {
                            tracing::warn!(error = %e, "cleaning worker sets failed");
                        }
                    }
                }
            }
            QueueBackend::Local(l) => match l.store().requeue_expired(Utc::now()).await {
                Ok(n) if n > 0 => {
                    tracing::warn!(count = n, "requeued tasks whose lease expired");
                    l.notifier().notify_waiters();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "lease sweep failed"),
            },
        }
    }

    /// Runs [`Hooks::reconcile`] when [`RECONCILE_EVERY`] has passed since the last run.
    pub(super) async fn reconcile(&self) {
        {
            let mut last = self
                .reconciled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < RECONCILE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        match self.hooks.reconcile(&self.ctx).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "reconciled the queue with the database"),
            Err(e) => tracing::warn!(error = %e, "reconciling the queue failed"),
        }
    }

    pub(super) async fn after_recovery(&self, item: crate::queue::rq::Recovered) {
        let Some(mut env) = item.env else {
            tracing::info!(task = %item.id, queue = %item.queue, "put a task stuck between pop and start back on its queue");
            return;
        };
        let err = TaskError::Retry("worker lost: its lease lapsed without a heartbeat".to_string());
        match item.outcome {
            RecoveredOutcome::Retried => {
                // The decoded attempt is the next one; the hooks get the one that was lost.
                env.attempt = env.attempt.saturating_sub(1).max(1);
                tracing::warn!(task = %env.id, task_name = %env.task, attempt = env.attempt, "recovered a task from a dead worker; requeued");
                metrics::counter!(TASKS_TOTAL, "name" => self.task_label(&env.task), "state" => "recovered")
                    .increment(1);
                if let Err(e) = self.hooks.on_retry(&self.ctx, &env, &err, Utc::now()).await {
                    tracing::error!(error = %e, "on_retry hook failed");
                }
            }
            RecoveredOutcome::Failed => {
                tracing::error!(task = %env.id, task_name = %env.task, "task of a dead worker has no retry left; failed");
                metrics::counter!(TASKS_TOTAL, "name" => self.task_label(&env.task), "state" => "failed")
                    .increment(1);
                self.record_failed(&env, &err).await;
            }
            RecoveredOutcome::Requeued => {}
        }
    }
}
