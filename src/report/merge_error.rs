//! Why `report merge` refuses its inputs or cannot read them: one
//! [`MergeError`] for the checks of [`super::merge`] and the attribution of
//! [`super::merge_arrivals`], printed after `cannot merge: `.

use super::merge_state::StateError;
use crate::plan;

/// Why shard reports cannot be merged (`report merge` prints it after
/// `cannot merge: `). `file` is an input as named on the command line.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("merge needs the unsharded plan")]
    ShardedPlan,
    #[error(
        "{file} is not a shard report (no `merge` section): only reports of `run --shard I/N` can be merged"
    )]
    NotShard { file: String },
    #[error("{file}: `merge` cannot be read: {error}")]
    State {
        file: String,
        error: serde_json::Error,
    },
    #[error("{file} cannot be read as a report: {error}")]
    NotReport {
        file: String,
        error: serde_json::Error,
    },
    #[error(
        "{file} was produced from a different plan than this scenario's (another scenario version, seed or variables): its digest is {}, the scenario's {}",
        short(.digest),
        short(.plan)
    )]
    OtherPlan {
        file: String,
        digest: String,
        plan: String,
    },
    #[error("no reports to merge")]
    Empty,
    #[error(
        "{first} is shard {first_shard} but {other} is shard {other_shard}: all reports must come from the same number of shards"
    )]
    ShardCounts {
        first: String,
        first_shard: plan::Shard,
        other: String,
        other_shard: plan::Shard,
    },
    #[error("shard {shard} is given twice ({first} and {second})")]
    Twice {
        shard: plan::Shard,
        first: String,
        second: String,
    },
    #[error(
        "shard(s) {} of {count} are missing: a merged report must cover every shard",
        .missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    )]
    Missing { missing: Vec<u32>, count: u32 },
    #[error("{file}: phase `{phase}` is missing")]
    NoPhase { file: String, phase: String },
    #[error("{file}: stream `{stream}` of phase `{phase}` is missing")]
    NoStream {
        file: String,
        stream: String,
        phase: String,
    },
    #[error("{file}: phase `{phase}` stream `{stream}`: {error}")]
    Cell {
        file: String,
        phase: String,
        stream: String,
        error: StateError,
    },
    #[error("{file}: arrivals cell {cell}: {error}")]
    ArrivalsCell {
        file: String,
        cell: usize,
        error: StateError,
    },
    #[error("{file}: `arrivals` is missing")]
    NoArrivals { file: String },
    /// Shard 0's merge state (its histograms or foreign arrivals).
    #[error("{file}: {error}")]
    Leader { file: String, error: StateError },
}

/// The first 12 characters of a plan digest, as messages show it.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_files_and_shards() {
        let shard = |index| plan::Shard { index, count: 3 };
        let cases = [
            (
                MergeError::Missing {
                    missing: vec![0, 2],
                    count: 3,
                },
                "shard(s) 0, 2 of 3 are missing: a merged report must cover every shard",
            ),
            (
                MergeError::Twice {
                    shard: shard(1),
                    first: "a.json".into(),
                    second: "b.json".into(),
                },
                "shard 1/3 is given twice (a.json and b.json)",
            ),
            (
                MergeError::ShardCounts {
                    first: "a.json".into(),
                    first_shard: shard(0),
                    other: "b.json".into(),
                    other_shard: plan::Shard { index: 1, count: 2 },
                },
                "a.json is shard 0/3 but b.json is shard 1/2: all reports must come from the same number of shards",
            ),
            (
                MergeError::OtherPlan {
                    file: "a.json".into(),
                    digest: "0123456789abcdef".into(),
                    plan: "fedcba".into(),
                },
                "a.json was produced from a different plan than this scenario's (another scenario version, seed or variables): its digest is 0123456789ab, the scenario's fedcba",
            ),
            (
                MergeError::Leader {
                    file: "a.json".into(),
                    error: StateError::ForeignTruncated,
                },
                "a.json: foreign arrivals are truncated",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }
}
