// Builds the JS value of a result the engine wrote as a "tape" (src/wasm/tape.rs): one
// Float64Array of operations and one string holding every string of the value, cut out by
// UTF-16 offsets. No logic lives here, only the value's shape. Measured against the JSON text
// + JSON.parse it replaces: reading a processRaw outcome here takes a third of JSON.parse's
// time, mostly because property names are made once per engine and reused instead of being
// read from text on every call (BENCHMARKS.md "Core engine").
//
// Tape: [n, (start, end) × n]  names first seen in this value, appended to `names`
//       then one value:
//         0 null · 1 true · 2 false · 3 number, then the number · 4 string, then start, end
//         5 object, then n, then n × (name, value); name ≥ 0 is an index into `names`,
//           −1 is a name given in place as start, end
//         6 array, then n, then n values

const names = [];

export function tape_value(tape, strings) {
  let at = 0;
  const newNames = tape[at++];
  for (let i = 0; i < newNames; i++) {
    names.push(strings.substring(tape[at], tape[at + 1]));
    at += 2;
  }
  function value() {
    switch (tape[at++]) {
      case 0: return null;
      case 1: return true;
      case 2: return false;
      case 3: return tape[at++];
      case 4: { const s = strings.substring(tape[at], tape[at + 1]); at += 2; return s; }
      case 5: {
        const n = tape[at++];
        const object = {};
        for (let i = 0; i < n; i++) {
          const name = tape[at++];
          if (name >= 0) { object[names[name]] = value(); continue; }
          const given = strings.substring(tape[at], tape[at + 1]);
          at += 2;
          // A name from data (a map key) may be "__proto__": JSON.parse makes it an own property.
          if (given === '__proto__') Object.defineProperty(object, given, { value: value(), enumerable: true, writable: true, configurable: true });
          else object[given] = value();
        }
        return object;
      }
      case 6: {
        const n = tape[at++];
        const array = new Array(n);
        for (let i = 0; i < n; i++) array[i] = value();
        return array;
      }
      default: throw new Error(`mailtrail: unreadable result (operation ${tape[at - 1]} at ${at - 1})`);
    }
  }
  return value();
}
