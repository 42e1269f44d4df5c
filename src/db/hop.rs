//! SQLite routines in one blocking-thread hop.
//!
//! diesel-async runs each statement of a `SyncConnectionWrapper` on tokio's blocking pool: a
//! hand-off to a blocking thread and a wake-up back, per statement. A routine of several
//! statements (the parse-batch fan-in's transaction, an event's sequence number then its
//! row, a claim's read then its write) paid that for each one, and a transaction held
//! SQLite's one write lock across its hand-offs, while the other worker slots' writers slept
//! in SQLite's busy handler. Thread hand-offs were a sixth of the worker's time in the
//! parse phase of a 53.6k-file `analyze`.
//!
//! [`run`] moves a whole routine onto one blocking thread and marks that thread, and the
//! connection's [`Hop`] runtime runs every statement of a marked thread in place. Elsewhere
//! [`Hop`] hands each statement off, as diesel-async's own tokio runtime does. The
//! statements, their order and their transactions are the same either way.

use super::DbError;
use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::cell::Cell;
use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

thread_local! {
    /// Set while [`run`] runs a routine on this thread.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// The runtime of a pooled SQLite connection (see the module docs).
pub struct Hop(Option<Handle>);

impl SpawnBlocking for Hop {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        match &self.0 {
            Some(handle) if !INLINE.get() => Finish {
                join: handle.spawn_blocking(task),
                handle: handle.clone(),
            }
            .map(|r| r.map_err(Box::from))
            .boxed(),
            // A marked thread, or no runtime at all: nothing to hand the statement off to.
            _ => futures_util::future::ready(Ok(task())).boxed(),
        }
    }

    fn get_runtime() -> Self {
        Hop(Handle::try_current().ok())
    }
}

/// A handed-off statement. Dropped before it finished, it waits for it, as diesel-async's
/// own runtime does: the connection must not go back to the pool with a statement running.
struct Finish<R> {
    join: JoinHandle<R>,
    handle: Handle,
}

impl<R> Future for Finish<R> {
    type Output = Result<R, tokio::task::JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().join).poll(cx)
    }
}

impl<R> Drop for Finish<R> {
    fn drop(&mut self) {
        if !self.join.is_finished() {
            let join = &mut self.join;
            tokio::task::block_in_place(|| {
                let _ = self.handle.block_on(join);
            });
        }
    }
}

/// Runs `routine` on a blocking thread whose SQLite statements run in place (see the module
/// docs). `routine` drives its async body with [`block_on`].
pub(crate) async fn run<T: Send + 'static>(
    routine: impl FnOnce() -> Result<T, DbError> + Send + 'static,
) -> Result<T, DbError> {
    tokio::task::spawn_blocking(move || {
        let _inline = Inline::mark();
        routine()
    })
    .await
    .unwrap_or_else(|e| {
        Err(DbError::Query(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UnableToSendCommand,
            Box::new(format!("database routine did not finish: {e}")),
        )))
    })
}

/// The mark of a thread of [`run`], taken off when dropped (also when the routine panics: the
/// thread goes back to the blocking pool).
struct Inline;

impl Inline {
    fn mark() -> Self {
        INLINE.set(true);
        Inline
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        INLINE.set(false);
    }
}

/// Drives `body` to its end on a thread of [`run`].
pub(crate) fn block_on<T>(body: impl Future<Output = T>) -> T {
    Handle::current().block_on(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::{self, ThreadId};

    fn here() -> ThreadId {
        thread::current().id()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn statements_run_in_place_only_inside_a_routine() {
        let mut hop = Hop::get_runtime();
        assert!(
            hop.0.is_some(),
            "a connection made in a runtime hands statements off"
        );
        // Outside a routine a statement goes to a blocking thread, not the caller's.
        let caller = here();
        let ran_on = hop.spawn_blocking(here).await.expect("statement");
        assert_ne!(ran_on, caller);
        // Inside one, every statement runs on the routine's own thread.
        let (routine, statements) = run(|| {
            let mut hop = Hop::get_runtime();
            block_on(async move {
                let mut ran_on = Vec::new();
                for _ in 0..3 {
                    ran_on.push(hop.spawn_blocking(here).await.expect("statement"));
                }
                Ok((here(), ran_on))
            })
        })
        .await
        .expect("routine");
        assert_ne!(routine, caller);
        assert_eq!(statements, vec![routine; 3]);
        assert!(!INLINE.get(), "the caller's thread is never marked");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_routine_that_panics_is_an_error_and_leaves_no_mark() {
        let out: Result<(), DbError> = run(|| panic!("boom")).await;
        let err = out.expect_err("a panic is an error");
        assert!(err.to_string().contains("did not finish"), "{err}");
        // The blocking pool reuses the thread that panicked: no routine runs in place there.
        for _ in 0..4 {
            let marked = tokio::task::spawn_blocking(|| INLINE.get())
                .await
                .expect("blocking task");
            assert!(!marked);
        }
    }
}
