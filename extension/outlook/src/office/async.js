// Promise wrappers around Office.js callback APIs. ECMAScript 2016 (see keys.js): this file also
// runs in classic Outlook's JavaScript-only runtime.

/** An Error for a failed Office call, carrying Office's error code and name. */
export function officeError(method, error) {
  var message = (error && error.message) || 'failed';
  var err = new Error('Office ' + method + ': ' + message);
  err.code = error && error.code;
  err.officeName = error && error.name;
  return err;
}

/**
 * Calls `target[method](...args, callback)` and resolves with the AsyncResult's value.
 * Rejects when the method does not exist (an older requirement set) or the result failed.
 */
export function officeCall(target, method, args) {
  return new Promise(function (resolve, reject) {
    if (!target || typeof target[method] !== 'function') {
      var err = new Error('Office API not available: ' + method);
      err.code = 'unsupported';
      reject(err);
      return;
    }
    var callArgs = (args || []).slice();
    callArgs.push(function (result) {
      if (result && result.status === 'failed') reject(officeError(method, result.error));
      else resolve(result ? result.value : undefined);
    });
    try {
      target[method].apply(target, callArgs);
    } catch (e) {
      reject(e);
    }
  });
}

/** Resolves with `fallback` instead of rejecting: for optional data (an older client lacks it). */
export function optional(promise, fallback) {
  return promise.then(
    function (v) {
      return v === undefined ? fallback : v;
    },
    function () {
      return fallback;
    }
  );
}

/** Settles with the promise, or with `onTimeout()` after `ms`. The promise keeps running. */
export function withTimeout(promise, ms, onTimeout) {
  return new Promise(function (resolve, reject) {
    var done = false;
    var timer = setTimeout(function () {
      if (done) return;
      done = true;
      try {
        resolve(onTimeout());
      } catch (e) {
        reject(e);
      }
    }, ms);
    promise.then(
      function (v) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(v);
      },
      function (e) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    );
  });
}

/** True when the client supports `Mailbox` requirement set `version`. */
export function supports(Office, version) {
  try {
    return !!(Office && Office.context && Office.context.requirements && Office.context.requirements.isSetSupported('Mailbox', version));
  } catch (e) {
    return false;
  }
}

/** UTF-8 length of a string: how roamingSettings' limit is counted here (the strictest reading). */
export function utf8Length(text) {
  var n = 0;
  for (var i = 0; i < text.length; i++) {
    var c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A random id (the JS-only runtime may lack `crypto`). */
export function randomId(prefix) {
  var s = '';
  for (var i = 0; i < 4; i++) s += Math.floor(Math.random() * 0x100000000).toString(36);
  return (prefix || '') + Date.now().toString(36) + '-' + s;
}
