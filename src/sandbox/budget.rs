//! One memory budget for all parser children of a process (`PARSER_MEMORY_MB`).
//!
//! A child's address-space limit (RLIMIT_AS) is what stops a parser that runs away on a hostile
//! file: it fails its own allocation and dies (`parse_crash`) instead of growing until the machine
//! swaps. The limit has to be small enough to fail fast — a quadratic blow-up reaches 1 GiB in well
//! under a second, 4 GiB in ten — and the sum over the children of one process has to be a number
//! an operator can plan with. So the operator gives one budget, and it is split evenly between the
//! children (`NODE_SUBPROC_CONCURRENCY`, fewer when the budget cannot give each at least
//! [`MIN_CHILD_BYTES`]). The worst case of a worker's parsing is then the budget, and of a host
//! the budget times its worker processes.

/// Least address space a child gets: the parse thread's stack reservation, the binary's mappings
/// and the allocator's arenas take about half of it before the first file; a 2 MiB file
/// (`MAX_FILE_BYTES`) parses in a few tens of MiB.
pub const MIN_CHILD_BYTES: u64 = 256 << 20;
/// Smallest default budget (small machines, containers).
const MIN_DEFAULT_BYTES: u64 = 512 << 20;
/// Largest default budget: more only makes a runaway parser slower to die.
const MAX_DEFAULT_BYTES: u64 = 2 << 30;
/// Default budget when the machine's memory cannot be read.
const FALLBACK_BYTES: u64 = 1536 << 20;

/// How the parser memory budget of one process is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserBudget {
    /// The whole budget, bytes: the most all children of this process may map together.
    pub total_bytes: u64,
    /// Children alive at once.
    pub children: usize,
    /// RLIMIT_AS of each child, bytes (`total_bytes / children`).
    pub per_child_bytes: u64,
    /// True when the budget was sized from the machine's memory (no `PARSER_MEMORY_MB`).
    pub from_machine: bool,
}

impl ParserBudget {
    /// The budget for `budget_mb` (None: sized from `machine_bytes`, the machine's memory) and
    /// up to `wanted_children` children.
    pub fn new(budget_mb: Option<u64>, wanted_children: usize, machine_bytes: Option<u64>) -> Self {
        let (total_bytes, from_machine) = match budget_mb {
            Some(mb) => (mb.saturating_mul(1 << 20), false),
            None => (default_bytes(machine_bytes), true),
        };
        let fit = usize::try_from(total_bytes / MIN_CHILD_BYTES).unwrap_or(usize::MAX);
        let children = wanted_children.max(1).min(fit.max(1));
        Self {
            total_bytes,
            children,
            per_child_bytes: total_bytes / children as u64,
            from_machine,
        }
    }

    /// The budget of this machine for `budget_mb` and `wanted_children`.
    pub fn for_this_machine(budget_mb: Option<u64>, wanted_children: usize) -> Self {
        Self::new(budget_mb, wanted_children, machine_memory_bytes())
    }
}

/// 1/16 of the machine's memory, between 512 MiB and 2 GiB.
fn default_bytes(machine_bytes: Option<u64>) -> u64 {
    machine_bytes.map_or(FALLBACK_BYTES, |m| {
        (m / 16).clamp(MIN_DEFAULT_BYTES, MAX_DEFAULT_BYTES)
    })
}

/// `MemTotal` of `/proc/meminfo`, bytes; `None` where there is no such file.
pub fn machine_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;

    #[test]
    fn default_is_a_sixteenth_of_the_machine_within_bounds() {
        let b = ParserBudget::new(None, 2, Some(24 * GIB));
        assert_eq!(
            (b.total_bytes, b.children, b.per_child_bytes),
            (1536 * MIB, 2, 768 * MIB)
        );
        assert!(b.from_machine);
        assert_eq!(ParserBudget::new(None, 2, Some(GIB)).total_bytes, 512 * MIB);
        assert_eq!(
            ParserBudget::new(None, 2, Some(256 * GIB)).total_bytes,
            2 * GIB
        );
        assert_eq!(ParserBudget::new(None, 2, None).total_bytes, 1536 * MIB);
    }

    #[test]
    fn the_budget_bounds_the_children_and_their_limits() {
        let b = ParserBudget::new(Some(1024), 2, Some(64 * GIB));
        assert_eq!((b.children, b.per_child_bytes), (2, 512 * MIB));
        assert!(!b.from_machine);
        // Too small for four children of at least 256 MiB: fewer, never less than one.
        let b = ParserBudget::new(Some(600), 4, None);
        assert_eq!((b.children, b.per_child_bytes), (2, 300 * MIB));
        let b = ParserBudget::new(Some(256), 8, None);
        assert_eq!((b.children, b.per_child_bytes), (1, 256 * MIB));
        // The worst case never exceeds the budget.
        for (mb, n) in [(512, 3), (2048, 7), (777, 2)] {
            let b = ParserBudget::new(Some(mb), n, None);
            assert!(b.per_child_bytes * b.children as u64 <= mb * MIB);
        }
    }

    #[test]
    fn machine_memory_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(machine_memory_bytes().is_some_and(|m| m > 64 * MIB));
        }
    }
}
