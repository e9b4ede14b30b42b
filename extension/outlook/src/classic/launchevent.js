// Entry of launchevent.js: the one script classic Outlook on Windows loads for event-based
// activation (the manifest's `<Override type="javascript">` / unified `code.script`). Office.js
// is provided by the runtime; `Office.onReady` does not run here, so handlers are associated at
// load. Everything reachable from this file must be ECMAScript 2016: the webpack build targets
// ES2016 and tests/js/outlook_classic.test.mjs parses the bundle with acorn at that version.
import { newMessageCompose, messageSend, completing, SEND_DEADLINE_MS } from './handlers.js';

/* global Office */
if (typeof Office !== 'undefined' && Office.actions && typeof Office.actions.associate === 'function') {
  Office.actions.associate(
    'onNewMessageCompose',
    completing(function () {
      return newMessageCompose(Office);
    }, SEND_DEADLINE_MS)
  );
  Office.actions.associate(
    'onMessageSend',
    completing(function () {
      return messageSend(Office, Date.now());
    }, SEND_DEADLINE_MS)
  );
}
