// Names Mailtrail stores things under in Outlook, kept in one place.
//
// This file, like everything in src/office/ and src/classic/, is bundled into the classic
// Outlook on Windows JavaScript-only runtime: ECMAScript 2016 only (no async/await, no ?. or ??,
// no object spread, no Object.entries/values), and no DOM, localStorage or WebAssembly.

/** Item custom property: the Log control's state on this compose item ("1" / "0"). */
export var LOG_PROPERTY = 'mailtrailLog';
/** Item custom property: a stable id for this compose item (Outlook has no id before saving). */
export var DRAFT_PROPERTY = 'mailtrailDraft';

/** roamingSettings: the settings document without secrets (tokens stay on the device). */
export var SETTINGS_KEY = 'mailtrail.settings';
/** roamingSettings: compose snapshots waiting for a WebAssembly-capable runtime (classic Windows). */
export var HANDOFF_KEY = 'mailtrail.handoff';
/** roamingSettings: snapshots that did not fit, counted so the task pane can say so. */
export var HANDOFF_LOST_KEY = 'mailtrail.handoffLost';

/** Outlook's limit for one add-in's roamingSettings, serialised. */
export var ROAMING_LIMIT_BYTES = 32 * 1024;
/** What the settings document may use of it; the rest is for the hand-off queue. */
export var SETTINGS_BUDGET_BYTES = 8 * 1024;
/** Kept free so a save never fails on bookkeeping the platform adds. */
export var ROAMING_MARGIN_BYTES = 1024;

/** notificationMessages key for Mailtrail's messages on an item. */
export var NOTIFICATION_KEY = 'mailtrail';
