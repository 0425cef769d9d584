//! The revision history: which pod templates are kept (as ControllerRevisions), numbered in the
//! order the revisions first ran, bounded by `revisionHistoryLimit`. Revisions that run or serve
//! are always kept.

use modeldeploy_api::v1alpha1::HistoryEntry;

use super::{Input, RunRevision};

/// The history after this plan, newest first: `target` recorded if it is new, the oldest
/// entries beyond the limit dropped unless `keep` says otherwise.
pub(super) fn next(
    input: &Input<'_>,
    target: &str,
    version: &str,
    run: &[RunRevision],
    keep: &[&str],
) -> Vec<HistoryEntry> {
    let mut entries: Vec<HistoryEntry> = input.observed.history.clone();
    if !entries.iter().any(|h| h.revision == target) {
        let number = entries.iter().map(|h| h.number).max().unwrap_or(0) + 1;
        entries.push(HistoryEntry {
            number,
            revision: target.to_owned(),
            model_version: Some(version.to_owned()),
        });
    }
    entries.sort_by_key(|h| std::cmp::Reverse(h.number));
    let limit = input.spec.revision_history_limit();
    let pinned = |h: &HistoryEntry| {
        keep.contains(&h.revision.as_str()) || run.iter().any(|r| r.revision == h.revision)
    };
    let mut kept = Vec::with_capacity(entries.len().min(limit + keep.len()));
    let mut room = limit.saturating_sub(entries.iter().filter(|h| pinned(h)).count());
    for entry in entries {
        if pinned(&entry) {
            kept.push(entry);
        } else if room > 0 {
            room -= 1;
            kept.push(entry);
        }
    }
    kept
}
