// The popup's activity list tells the truth: the engine notes each decision when it makes it,
// but the page may learn afterwards that it did not happen as decided — in BCC mode, that the
// CRM's BCC address could not be added to the email (Gmail's Bcc row would not open, or the
// decision came after Gmail had sent). The worker keeps such corrections (Host#noteCorrection,
// persisted as `meta.corrections`) and applies them to the activity it reports. Pure.

/** Corrections kept (the engine keeps its last 100 decisions). */
export const CORRECTIONS_LIMIT = 100;

/**
 * `corrections` with one more: the BCC address of the decision noted at `at` (its subject
 * `subject`) could not be added; `pushed` when a record was pushed as well. Replaces an earlier
 * correction of the same entry; the oldest go first.
 */
export function addCorrection(corrections, { at, subject, address, pushed }) {
  const kept = (corrections || []).filter((c) => !(c.at === at && c.subject === subject));
  return [...kept, { at, subject, address, pushed: !!pushed, kind: 'bcc-not-added' }].slice(-CORRECTIONS_LIMIT);
}

/**
 * The engine's activity with what the page learned afterwards: an entry whose BCC address could
 * not be added says so (not logged, unless a record was pushed too) instead of "BCC added".
 * `notes` are message names with substitutions, rendered by the popup in the user's language.
 */
export function correctedActivity(activity, corrections) {
  if (!corrections?.length) return activity;
  return activity.map((a) => {
    const c = corrections.find((x) => x.at === a.at && x.subject === a.subject);
    if (!c || c.kind !== 'bcc-not-added') return a;
    return {
      ...a,
      logged: c.pushed ? a.logged : false,
      reasons: a.reasons.filter((r) => r.code !== 'bcc-added'),
      notes: [{ message: c.pushed ? 'activity_bcc_not_added_pushed' : 'activity_bcc_not_added', substitutions: [c.address] }],
    };
  });
}
