//! Staged Platform rollouts, as pure rules: which Apps a wave moves, which revision an App
//! renders from, when the rollout steps on, completes or pauses, and how revisions are kept.
//! The operator feeds these from the API server (ControllerRevisions, the Platform's status, the
//! Apps' status), so every decision can be made again after a restart from what is stored there.
//!
//! Membership is a hash threshold, not a rank: an App is in wave `k` when its position, a stable
//! hash of (revision, namespace, name) in [0, 1), is below the wave's share. Whether an App
//! moves therefore depends on nothing but itself, so Apps created or deleted mid-rollout never
//! move another App in or out of a wave; the price is that a wave's share is met on average,
//! not exactly (1% of 50 Apps may be none, and then the wave holds only the canaries).

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::platform::{PlatformSpec, RolloutPolicy};

/// Revisions kept per Platform besides those Apps still follow. Ten, like a Deployment's
/// default `revisionHistoryLimit`: enough to revert a few edits back, few enough to stay small.
pub const HISTORY_LIMIT: usize = 10;

/// Characters of the spec digest in a revision's name.
const HASH_LEN: usize = 10;

/// An App's place in a revision's rollout, in [0, 1). Fresh for each revision, so the same
/// Apps are not always the first to take a change.
pub fn position(revision: &str, namespace: &str, name: &str) -> f64 {
    let digest = Sha256::new()
        .chain_update(revision)
        .chain_update([0])
        .chain_update(namespace)
        .chain_update([0])
        .chain_update(name)
        .finalize();
    let mut high = [0u8; 8];
    high.copy_from_slice(&digest[..8]);
    // The top 53 bits, exactly representable: the result is strictly below 1.
    (u64::from_be_bytes(high) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether an App moves to `revision` by wave `wave` (counted from 0) of `shares`: canaries in
/// the first wave, every other App once the wave's share exceeds its position. A wave past the
/// last counts as the last.
pub fn admitted(
    shares: &[f64],
    wave: usize,
    revision: &str,
    namespace: &str,
    name: &str,
    canary: bool,
) -> bool {
    let Some(share) = shares.get(wave).or(shares.last()) else {
        return true;
    };
    canary || position(revision, namespace, name) < *share
}

/// The digest that tells one revision from another: the spec without `rollout`, whose changes
/// alter how the next change spreads, not what any App renders.
pub fn spec_hash(spec: &PlatformSpec) -> String {
    let mut rendered = spec.clone();
    rendered.rollout = None;
    let json = serde_json::to_vec(&rendered).expect("a Platform spec serializes");
    let digest = Sha256::digest(json);
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()[..HASH_LEN]
        .to_string()
}

/// A revision's name: `<platform>-<digest>`, the Platform's name shortened so the whole fits
/// an object name (253 characters).
pub fn revision_name(platform: &str, hash: &str) -> String {
    let room = 253 - 1 - hash.len();
    let mut prefix: String = platform.chars().take(room).collect();
    while prefix.ends_with(['-', '.']) {
        prefix.pop();
    }
    format!("{prefix}-{hash}")
}

/// One stored revision of a Platform, as its ControllerRevision says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRevision {
    pub name: String,
    pub revision: i64,
}

/// What to do to a Platform's revisions so the newest one holds its current spec.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RevisionPlan {
    /// The revision the current spec is: its name and number.
    pub newest: Option<StoredRevision>,
    /// Create it (the spec was never seen before).
    pub create: bool,
    /// Raise the number of an existing revision to `newest.revision` (the spec went back to
    /// one seen before; as a Deployment does, the old revision becomes the newest).
    pub renumber: bool,
    /// Revisions to delete: the oldest beyond [`HISTORY_LIMIT`] that no App follows.
    pub delete: Vec<String>,
}

/// The bookkeeping for a Platform whose current spec has revision name `current`, given the
/// stored revisions and the ones Apps follow.
pub fn plan_revisions(
    stored: &[StoredRevision],
    current: &str,
    followed: &BTreeSet<String>,
) -> RevisionPlan {
    let highest = stored.iter().map(|r| r.revision).max().unwrap_or(0);
    let existing = stored.iter().find(|r| r.name == current);
    let (newest, create, renumber) = match existing {
        Some(r) if r.revision == highest => (r.clone(), false, false),
        Some(r) => (
            StoredRevision {
                name: r.name.clone(),
                revision: highest + 1,
            },
            false,
            true,
        ),
        None => (
            StoredRevision {
                name: current.to_string(),
                revision: highest + 1,
            },
            true,
            false,
        ),
    };
    let mut others: Vec<&StoredRevision> = stored.iter().filter(|r| r.name != current).collect();
    others.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let delete = others
        .into_iter()
        .skip(HISTORY_LIMIT)
        .filter(|r| !followed.contains(&r.name))
        .map(|r| r.name.clone())
        .collect();
    RevisionPlan {
        newest: Some(newest),
        create,
        renumber,
        delete,
    }
}

/// Where a Platform's rollout stands, as its status says.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutView {
    /// The newest revision's name.
    pub newest: String,
    /// The wave reached, counted from 0.
    pub wave: usize,
    pub paused: bool,
    pub shares: Vec<f64>,
}

/// One App as the rollout sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct AppAtRevision<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// Its namespace has the Platform's canary label.
    pub canary: bool,
    /// The revision of this Platform it follows; `None` for an App never rendered with it.
    pub follows: Option<&'a str>,
    /// The App is Degraded now.
    pub degraded: bool,
}

/// The revision of a staged Platform an App renders from: the newest when it is new (it has no
/// older state to keep), when its wave has come (and the rollout is not paused), or when it is
/// Degraded under an older one (a revert or a fix heals it at once rather than in a wave);
/// otherwise the one it follows.
pub fn assigned<'a>(rollout: &'a RolloutView, app: &AppAtRevision<'a>) -> &'a str {
    let Some(follows) = app.follows else {
        return &rollout.newest;
    };
    if follows == rollout.newest || app.degraded {
        return &rollout.newest;
    }
    let due = admitted(
        &rollout.shares,
        rollout.wave,
        &rollout.newest,
        app.namespace,
        app.name,
        app.canary,
    );
    if due && !rollout.paused {
        &rollout.newest
    } else {
        follows
    }
}

/// How one App selected by the Platform is doing under the newest revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Still on an older revision.
    Waiting,
    /// At the newest revision, not yet Ready for `minReadySeconds`.
    Moving,
    /// Ready at the newest revision for `minReadySeconds`.
    Done,
    /// Degraded (or past its progress deadline) at the newest revision: the reason and message.
    Failed { reason: String, message: String },
}

/// A Platform rollout's phase, as `kubectl get platforms` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Progressing,
    Paused,
    Complete,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Progressing => "Progressing",
            Phase::Paused => "Paused",
            Phase::Complete => "Complete",
        }
    }
}

/// The next state of a rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub wave: usize,
    pub phase: Phase,
}

/// One App of a rollout: whether its wave has come, and how it is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub due: bool,
    pub progress: Progress,
}

/// The rollout after looking at its Apps at wave `wave`: paused once the failures reach
/// `pauseAfterFailedApps` beyond those accepted by a resume (`accepted_failures`); on to the
/// next wave once every App due is done (or failed, below the threshold: the rollout does not
/// wait on an App it has given up on); complete once the last wave's are.
pub fn step(policy: &RolloutPolicy, wave: usize, apps: &[Tally], accepted_failures: u32) -> Step {
    let last = policy.waves.len().saturating_sub(1);
    let wave = wave.min(last);
    let failed = apps
        .iter()
        .filter(|a| matches!(a.progress, Progress::Failed { .. }))
        .count();
    let failed = u32::try_from(failed).unwrap_or(u32::MAX);
    if failed >= accepted_failures.saturating_add(policy.pause_after()) {
        return Step {
            wave,
            phase: Phase::Paused,
        };
    }
    let settled = apps
        .iter()
        .filter(|a| a.due)
        .all(|a| matches!(a.progress, Progress::Done | Progress::Failed { .. }));
    match (settled, wave == last) {
        (true, true) => Step {
            wave,
            phase: Phase::Complete,
        },
        (true, false) => Step {
            wave: wave + 1,
            phase: Phase::Progressing,
        },
        (false, _) => Step {
            wave,
            phase: Phase::Progressing,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(waves: &[&str], pause: i32) -> RolloutPolicy {
        RolloutPolicy {
            waves: waves.iter().map(ToString::to_string).collect(),
            pause_after_failed_apps: Some(pause),
            ..Default::default()
        }
    }

    fn tally(due: bool, progress: Progress) -> Tally {
        Tally { due, progress }
    }

    fn failed() -> Progress {
        Progress::Failed {
            reason: "PolicyViolation".into(),
            message: "m".into(),
        }
    }

    #[test]
    fn positions_are_stable_in_range_and_differ_by_revision() {
        let a = position("p-1", "shop", "web");
        assert_eq!(a, position("p-1", "shop", "web"));
        assert!((0.0..1.0).contains(&a));
        assert_ne!(a, position("p-2", "shop", "web"));
        // The separators keep ("ab", "c") apart from ("a", "bc").
        assert_ne!(position("r", "ab", "c"), position("r", "a", "bc"));
    }

    #[test]
    fn waves_hold_about_their_share_and_grow_monotonically() {
        let shares = [0.1, 0.5, 1.0];
        let names: Vec<String> = (0..2000).map(|i| format!("app-{i}")).collect();
        let in_wave = |wave: usize| {
            names
                .iter()
                .filter(|n| admitted(&shares, wave, "p-abc", "ns", n, false))
                .count()
        };
        let (first, second, last) = (in_wave(0), in_wave(1), in_wave(2));
        assert!((140..=260).contains(&first), "{first}");
        assert!((900..=1100).contains(&second), "{second}");
        assert_eq!(last, 2000);
        for n in &names {
            if admitted(&shares, 0, "p-abc", "ns", n, false) {
                assert!(admitted(&shares, 1, "p-abc", "ns", n, false), "{n}");
            }
        }
    }

    #[test]
    fn canaries_go_in_the_first_wave_whatever_its_share() {
        let shares = [0.01, 1.0];
        for i in 0..100 {
            assert!(admitted(
                &shares,
                0,
                "p-abc",
                "canary",
                &format!("a{i}"),
                true
            ));
        }
    }

    #[test]
    fn an_apps_wave_does_not_change_when_others_come_and_go() {
        let shares = [0.25, 1.0];
        let before: Vec<(String, bool)> = (0..200)
            .map(|i| {
                let name = format!("app-{i}");
                let moved = admitted(&shares, 0, "p-1", "ns", &name, false);
                (name, moved)
            })
            .collect();
        // Half the Apps are deleted and 300 others created: no survivor changes its wave.
        let survivors = before.iter().step_by(2);
        let _newcomers: Vec<bool> = (200..500)
            .map(|i| admitted(&shares, 0, "p-1", "ns", &format!("app-{i}"), false))
            .collect();
        for (name, moved) in survivors {
            assert_eq!(
                admitted(&shares, 0, "p-1", "ns", name, false),
                *moved,
                "{name}"
            );
        }
    }

    #[test]
    fn the_hash_ignores_the_rollout_policy_but_not_the_defaults() {
        let mut spec = PlatformSpec::default();
        let plain = spec_hash(&spec);
        spec.rollout = Some(policy(&["50%", "100%"], 2));
        assert_eq!(spec_hash(&spec), plain);
        spec.defaults.pre_stop_sleep_seconds = Some(15);
        assert_ne!(spec_hash(&spec), plain);
        assert_eq!(plain.len(), HASH_LEN);
    }

    #[test]
    fn revision_names_fit_an_object_name() {
        assert_eq!(
            revision_name("defaults", "0123456789"),
            "defaults-0123456789"
        );
        let long = format!("{}-.x", "a".repeat(241));
        let name = revision_name(&long, "0123456789");
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.ends_with("a-0123456789"), "{name}");
    }

    fn stored(name: &str, revision: i64) -> StoredRevision {
        StoredRevision {
            name: name.into(),
            revision,
        }
    }

    #[test]
    fn a_new_spec_is_a_new_revision_numbered_after_the_highest() {
        let plan = plan_revisions(
            &[stored("p-a", 1), stored("p-b", 2)],
            "p-c",
            &BTreeSet::new(),
        );
        assert_eq!(plan.newest, Some(stored("p-c", 3)));
        assert!(plan.create && !plan.renumber);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn the_same_spec_again_changes_nothing() {
        let plan = plan_revisions(
            &[stored("p-a", 1), stored("p-b", 2)],
            "p-b",
            &BTreeSet::new(),
        );
        assert_eq!(plan.newest, Some(stored("p-b", 2)));
        assert!(!plan.create && !plan.renumber && plan.delete.is_empty());
    }

    #[test]
    fn a_revert_renumbers_the_old_revision_as_the_newest() {
        let plan = plan_revisions(
            &[stored("p-a", 1), stored("p-b", 2)],
            "p-a",
            &BTreeSet::new(),
        );
        assert_eq!(plan.newest, Some(stored("p-a", 3)));
        assert!(!plan.create && plan.renumber);
    }

    #[test]
    fn history_keeps_the_limit_and_every_revision_an_app_follows() {
        let all: Vec<StoredRevision> = (1..=15).map(|i| stored(&format!("p-{i}"), i)).collect();
        let followed = BTreeSet::from(["p-2".to_string()]);
        let plan = plan_revisions(&all, "p-new", &followed);
        // Newest kept: p-15..p-6 (10); p-5, p-4, p-3, p-1 go; p-2 stays, an App follows it.
        assert_eq!(plan.delete, vec!["p-5", "p-4", "p-3", "p-1"]);
    }

    fn view(wave: usize, paused: bool) -> RolloutView {
        RolloutView {
            newest: "p-new".into(),
            wave,
            paused,
            shares: vec![0.0001, 1.0],
        }
    }

    fn app<'a>(follows: Option<&'a str>, canary: bool, degraded: bool) -> AppAtRevision<'a> {
        AppAtRevision {
            namespace: "ns",
            name: "web",
            canary,
            follows,
            degraded,
        }
    }

    #[test]
    fn an_app_keeps_its_revision_until_its_wave() {
        assert_eq!(
            assigned(&view(0, false), &app(Some("p-old"), false, false)),
            "p-old"
        );
        assert_eq!(
            assigned(&view(1, false), &app(Some("p-old"), false, false)),
            "p-new"
        );
        assert_eq!(
            assigned(&view(0, false), &app(Some("p-old"), true, false)),
            "p-new"
        );
    }

    #[test]
    fn new_apps_take_the_newest_revision_at_once() {
        assert_eq!(assigned(&view(0, true), &app(None, false, false)), "p-new");
    }

    #[test]
    fn a_paused_rollout_moves_no_one_further_and_keeps_those_moved() {
        assert_eq!(
            assigned(&view(1, true), &app(Some("p-old"), false, false)),
            "p-old"
        );
        assert_eq!(
            assigned(&view(1, true), &app(Some("p-new"), false, true)),
            "p-new"
        );
    }

    #[test]
    fn a_degraded_app_moves_to_the_newest_revision_at_once() {
        // After a revert the old spec is the newest revision again: the App that failed under
        // the bad one goes back without waiting for a wave, paused or not.
        assert_eq!(
            assigned(&view(0, true), &app(Some("p-bad"), false, true)),
            "p-new"
        );
    }

    #[test]
    fn failures_at_the_threshold_pause_the_rollout() {
        let p = policy(&["10%", "100%"], 2);
        let one = [tally(true, failed()), tally(true, Progress::Moving)];
        assert_eq!(step(&p, 0, &one, 0).phase, Phase::Progressing);
        let two = [tally(true, failed()), tally(false, failed())];
        assert_eq!(
            step(&p, 0, &two, 0),
            Step {
                wave: 0,
                phase: Phase::Paused
            }
        );
        // A resume accepts the failures so far: the next ones count towards a new pause.
        assert_eq!(step(&p, 0, &two, 2).phase, Phase::Progressing);
    }

    #[test]
    fn the_rollout_steps_on_when_every_due_app_is_done_and_completes_after_the_last() {
        let p = policy(&["10%", "50%", "100%"], 3);
        let waiting = [
            tally(true, Progress::Done),
            tally(true, Progress::Moving),
            tally(false, Progress::Waiting),
        ];
        assert_eq!(
            step(&p, 0, &waiting, 0),
            Step {
                wave: 0,
                phase: Phase::Progressing
            }
        );
        let done = [
            tally(true, Progress::Done),
            tally(true, failed()),
            tally(false, Progress::Waiting),
        ];
        assert_eq!(
            step(&p, 0, &done, 0),
            Step {
                wave: 1,
                phase: Phase::Progressing
            }
        );
        let all = [tally(true, Progress::Done), tally(true, Progress::Done)];
        assert_eq!(
            step(&p, 2, &all, 0),
            Step {
                wave: 2,
                phase: Phase::Complete
            }
        );
        // A wave with no App due (1% of few Apps) is passed at once.
        assert_eq!(
            step(&p, 0, &[], 0),
            Step {
                wave: 1,
                phase: Phase::Progressing
            }
        );
    }
}
