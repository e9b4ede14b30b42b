// A small notice in the page's corner: what Mailtrail did with an email, and why.
// Built with createElement/textContent only (Gmail enforces Trusted Types; mail content is
// hostile), announced politely to screen readers, dismissed after a while or on click.

const HOST_ID = 'mailtrail-toasts';

function container(doc) {
  let box = doc.getElementById(HOST_ID);
  if (!box) {
    box = doc.createElement('div');
    box.id = HOST_ID;
    box.setAttribute('role', 'status');
    box.setAttribute('aria-live', 'polite');
    doc.body.appendChild(box);
  }
  return box;
}

/**
 * Shows `title` with optional detail lines. `kind`: ok | warn | info.
 * Returns the element (tests and callers may look at it).
 */
export function toast(doc, title, { kind = 'info', details = [], timeoutMs = 8000 } = {}) {
  const item = doc.createElement('div');
  render(item, title, kind, details);
  item.addEventListener('click', () => item.remove());
  const box = container(doc);
  box.appendChild(item);
  while (box.childElementCount > 4) box.firstElementChild.remove();
  if (timeoutMs) item.mailtrailTimer = setTimeout(() => item.remove(), timeoutMs);
  return item;
}

function render(item, title, kind, details) {
  const doc = item.ownerDocument;
  item.className = `mailtrail-toast mailtrail-toast-${kind}`;
  const head = doc.createElement('div');
  head.className = 'mailtrail-toast-title';
  head.textContent = title;
  const lines = details.map((line) => {
    const d = doc.createElement('div');
    d.className = 'mailtrail-toast-detail';
    d.textContent = line;
    return d;
  });
  item.replaceChildren(head, ...lines);
}

/**
 * Replaces what a notice says (a later answer corrects it). Shown again if it was already
 * dismissed or timed out, so the correction is not lost.
 */
export function replaceToast(item, title, { kind = 'info', details = [], timeoutMs = 8000 } = {}) {
  if (!item) return null;
  render(item, title, kind, details);
  item.dataset.updated = 'true';
  if (!item.isConnected) container(item.ownerDocument).appendChild(item);
  clearTimeout(item.mailtrailTimer);
  if (timeoutMs) item.mailtrailTimer = setTimeout(() => item.remove(), timeoutMs);
  return item;
}
