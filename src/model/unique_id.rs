//! Generation of document and submission-set uniqueIds under an OID root.

use std::sync::atomic::{AtomicU64, Ordering};

use super::oid::{DocumentUniqueId, Oid, SubmissionSetUniqueId};
use super::timestamp::UtcTimestamp;

/// Makes uniqueIds `<root>.<YYYYMMDDhhmmss>.<n>` (UTC), at most 64
/// characters.
///
/// `n` has a fixed number of digits (as many as fit, 10 to 18) and is an
/// affine permutation of a counter, `lowest + (offset + counter × step) mod
/// span`, with `offset` and `step` drawn from the OS random source when the
/// generator is made and `step` coprime with `span`. So one generator never
/// repeats an id (the counter would have to pass `span` ≥ 9·10⁹), and two
/// generators on the same root — two installations, or a restarted daemon —
/// produce unrelated sequences, colliding only by chance (about one in
/// `span` per pair of ids made in the same second).
#[derive(Debug)]
pub struct UniqueIdGenerator {
    root: Oid,
    lowest: u128,
    span: u128,
    offset: u128,
    step: u128,
    counter: AtomicU64,
}

/// Why a generator cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UniqueIdError {
    /// The root leaves too little room for the timestamp and random part.
    #[error(
        "the uniqueId root OID has {length} characters: at most {max} are allowed, so that generated ids stay within 64; use a shorter root"
    )]
    RootTooLong {
        /// Characters in the root.
        length: usize,
        /// Longest root accepted.
        max: usize,
    },
    /// The operating system's random source failed.
    #[error("the system random source failed ({0}); uniqueIds cannot be made safely")]
    Randomness(String),
}

/// `.YYYYMMDDhhmmss.`
const TIMESTAMP_PART: usize = 16;
const MIN_RANDOM_DIGITS: usize = 10;
const MAX_RANDOM_DIGITS: usize = 18;

impl UniqueIdGenerator {
    /// Longest root that still leaves 10 digits for the random part.
    pub const MAX_ROOT_LEN: usize = Oid::MAX_LEN - TIMESTAMP_PART - MIN_RANDOM_DIGITS;

    /// A generator under `root`, seeded from the OS random source.
    pub fn new(root: Oid) -> Result<UniqueIdGenerator, UniqueIdError> {
        let length = root.as_str().len();
        if length > Self::MAX_ROOT_LEN {
            return Err(UniqueIdError::RootTooLong {
                length,
                max: Self::MAX_ROOT_LEN,
            });
        }
        let digits = (Oid::MAX_LEN - length - TIMESTAMP_PART).min(MAX_RANDOM_DIGITS);
        // 10^(digits-1) ..< 10^digits: exactly `digits` digits, no leading zero.
        let lowest = 10u128.pow(digits as u32 - 1);
        let span = 9 * lowest;
        let random = |what: &str| {
            getrandom::u64().map_err(|e| UniqueIdError::Randomness(format!("{what}: {e}")))
        };
        let offset = u128::from(random("offset")?) % span;
        // span = 2^a·3^b·5^c: a step not divisible by 2, 3 or 5 is coprime
        // with it, which makes `counter ↦ counter × step mod span` a
        // permutation.
        let mut step = u128::from(random("step")?) % span;
        while [2, 3, 5].iter().any(|&p| step.is_multiple_of(p)) {
            step = (step + 1) % span;
        }
        Ok(UniqueIdGenerator {
            root,
            lowest,
            span,
            offset,
            step,
            counter: AtomicU64::new(0),
        })
    }

    /// The root the ids are made under.
    pub fn root(&self) -> &Oid {
        &self.root
    }

    /// A new document uniqueId, stamped with the current time.
    pub fn next_document_id(&self) -> DocumentUniqueId {
        DocumentUniqueId::from(self.next_at(UtcTimestamp::now()))
    }

    /// A new submission-set uniqueId, stamped with the current time.
    pub fn next_submission_set_id(&self) -> SubmissionSetUniqueId {
        SubmissionSetUniqueId::from(self.next_at(UtcTimestamp::now()))
    }

    /// A new id stamped with `at`.
    pub fn next_at(&self, at: UtcTimestamp) -> Oid {
        let counter = u128::from(self.counter.fetch_add(1, Ordering::Relaxed));
        let n = self.lowest + (self.offset + (counter % self.span) * self.step) % self.span;
        let text = format!("{}.{}.{n}", self.root, at.to_xds_dtm());
        match text.parse() {
            Ok(oid) => oid,
            // The root is a valid OID of at most MAX_ROOT_LEN characters and
            // both appended arcs are digit strings without a leading zero
            // whose lengths were budgeted in `new`, so this cannot happen.
            Err(error) => unreachable!("generated uniqueId {text} is not an OID: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn at() -> UtcTimestamp {
        "2026-11-28T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn one_generator_never_repeats_within_a_second() {
        let generator = UniqueIdGenerator::new("1.3.6.1.4.1.99999.1".parse().unwrap()).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = generator.next_at(at());
            assert!(id.as_str().len() <= 64);
            assert!(seen.insert(id), "collision");
        }
    }

    #[test]
    fn the_longest_root_still_gives_unique_ids_within_64_characters() {
        let root = format!("1.{}", "2".repeat(UniqueIdGenerator::MAX_ROOT_LEN - 2));
        let generator = UniqueIdGenerator::new(root.parse().unwrap()).unwrap();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let id = generator.next_at(at());
            assert_eq!(id.as_str().len(), 64);
            assert!(seen.insert(id), "collision");
        }
        let too_long = format!("1.{}", "2".repeat(UniqueIdGenerator::MAX_ROOT_LEN - 1));
        assert_eq!(
            UniqueIdGenerator::new(too_long.parse().unwrap()).unwrap_err(),
            UniqueIdError::RootTooLong {
                length: UniqueIdGenerator::MAX_ROOT_LEN + 1,
                max: UniqueIdGenerator::MAX_ROOT_LEN
            }
        );
    }

    #[test]
    fn two_generators_on_one_root_do_not_collide() {
        let root: Oid = "1.3.6.1.4.1.99999.1".parse().unwrap();
        let first = UniqueIdGenerator::new(root.clone()).unwrap();
        let second = UniqueIdGenerator::new(root).unwrap();
        let ids: HashSet<Oid> = (0..50_000)
            .flat_map(|_| [first.next_at(at()), second.next_at(at())])
            .collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn ids_carry_root_and_timestamp() {
        let generator = UniqueIdGenerator::new("1.2.3".parse().unwrap()).unwrap();
        let id = generator.next_at(at());
        let rest = id.as_str().strip_prefix("1.2.3.20261128100000.").unwrap();
        assert_eq!(rest.len(), 18);
        assert!(!rest.starts_with('0'));
        let document = generator.next_document_id();
        assert!(document.as_str().starts_with("1.2.3."));
        assert_ne!(
            generator.next_submission_set_id().as_str(),
            document.as_str()
        );
    }
}
