// Entry of commands.html: the page Outlook loads for event-based activation in browser runtimes
// (Outlook on the web, new Outlook on Windows, Outlook on Mac) and for the "Log this email"
// function command everywhere. Handlers are associated at load: event runtimes may call them
// before Office.onReady would fire.
import { createContext } from '../engine/context.js';
import { loadEngine } from '../engine/wasm.js';
import { onNewMessageCompose, onMessageSend, logThisEmail, SEND_BUDGET_MS } from '../handlers/events.js';
import { completing } from '../classic/handlers.js';

/* global Office */
// Start fetching and compiling the engine while Office initialises: the send handler then only
// waits for what is left of it.
loadEngine().catch(() => {});

let ctx = null;
const context = () => (ctx ||= createContext({ Office, loadEngine }));

const handlers = {
  onNewMessageCompose: completing(() => onNewMessageCompose(context()), SEND_BUDGET_MS),
  onMessageSend: completing(() => onMessageSend(context()), SEND_BUDGET_MS + 500),
  logThisEmail: completing(
    async () => {
      try {
        return await logThisEmail(context());
      } catch (e) {
        const item = Office.context.mailbox.item;
        const message = context().t('notify.failed', { message: e.message || String(e) }).slice(0, 150);
        item?.notificationMessages?.replaceAsync('mailtrail', { type: 'informationalMessage', message, icon: 'Icon.16', persistent: false });
        throw e;
      }
    },
    20_000,
    null
  ),
};

for (const [name, handler] of Object.entries(handlers)) {
  Office.actions.associate(name, handler);
  // Add-in only (XML) manifests on older clients look function commands up by global name.
  globalThis[name] = handler;
}

Office.onReady(() => {
  document.documentElement.lang = context().t.lang;
});

/** The handlers and the shared context, reachable from the page for diagnostics and tests. */
globalThis.mailtrailCommands = { handlers, context };
