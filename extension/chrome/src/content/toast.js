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
  item.className = `mailtrail-toast mailtrail-toast-${kind}`;
  const head = doc.createElement('div');
  head.className = 'mailtrail-toast-title';
  head.textContent = title;
  item.appendChild(head);
  for (const line of details) {
    const d = doc.createElement('div');
    d.className = 'mailtrail-toast-detail';
    d.textContent = line;
    item.appendChild(d);
  }
  item.addEventListener('click', () => item.remove());
  const box = container(doc);
  box.appendChild(item);
  while (box.childElementCount > 4) box.firstElementChild.remove();
  if (timeoutMs) setTimeout(() => item.remove(), timeoutMs);
  return item;
}
