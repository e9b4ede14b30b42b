// Per-item state kept in the item's custom properties: the Log control's state (so the send
// handler, which runs in another runtime, reads what the task pane or OnNewMessageCompose set)
// and a stable compose id. ECMAScript 2016 (see keys.js).
import { officeCall, randomId } from './async.js';
import { LOG_PROPERTY, DRAFT_PROPERTY } from './keys.js';

export function loadProperties(item) {
  return officeCall(item, 'loadCustomPropertiesAsync');
}

/** `{checked, explicit}`: the stored state, or the default when nothing was stored yet. */
export function logStateOf(props, defaultChecked) {
  var stored = props ? props.get(LOG_PROPERTY) : undefined;
  if (stored === '1' || stored === true) return { checked: true, explicit: true };
  if (stored === '0' || stored === false) return { checked: false, explicit: true };
  return { checked: !!defaultChecked, explicit: false };
}

/** The compose id stored on the item, or a new one (set, not yet saved) when there is none. */
export function draftIdOf(props) {
  var id = props ? props.get(DRAFT_PROPERTY) : undefined;
  if (typeof id === 'string' && id) return { id: id, created: false };
  id = randomId('ol-');
  if (props) props.set(DRAFT_PROPERTY, id);
  return { id: id, created: true };
}

/** Stores the Log state (and makes sure the item has a compose id), then saves. */
export function saveLogState(item, checked) {
  return loadProperties(item).then(function (props) {
    props.set(LOG_PROPERTY, checked ? '1' : '0');
    var draft = draftIdOf(props);
    return officeCall(props, 'saveAsync').then(function () {
      return { checked: !!checked, draftId: draft.id };
    });
  });
}

/**
 * Applies the default Log state to a new compose item unless a state is already stored (a draft
 * reopened, or the task pane was quicker). Returns the state in effect.
 */
export function applyDefaultLogState(item, defaultChecked) {
  return loadProperties(item).then(function (props) {
    var state = logStateOf(props, defaultChecked);
    var draft = draftIdOf(props);
    if (state.explicit && !draft.created) return { checked: state.checked, draftId: draft.id, applied: false };
    if (!state.explicit) props.set(LOG_PROPERTY, state.checked ? '1' : '0');
    return officeCall(props, 'saveAsync').then(function () {
      return { checked: state.checked, draftId: draft.id, applied: !state.explicit };
    });
  });
}
