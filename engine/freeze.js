// freeze.js deep-freezes what a shared module made when its top level ran (see
// shared.go): every object and function reachable from the roots through own
// properties and prototypes. What is frozen already (the hardened intrinsics,
// other shared modules) is not walked again.
(function freeze(roots) {
  'use strict';
  const { getOwnPropertyDescriptor, getPrototypeOf, ownKeys } = Reflect;
  const isFrozen = Object.isFrozen;
  const seen = new Set();
  const queue = [];
  function add(v) {
    if (((typeof v === 'object' && v !== null) || typeof v === 'function') && !seen.has(v) && !isFrozen(v)) {
      seen.add(v);
      queue.push(v);
    }
  }
  for (const v of roots) {
    add(v);
  }
  while (queue.length > 0) {
    const obj = queue.pop();
    add(getPrototypeOf(obj));
    for (const key of ownKeys(obj)) {
      const desc = getOwnPropertyDescriptor(obj, key);
      if ('value' in desc) {
        add(desc.value);
      } else {
        add(desc.get);
        add(desc.set);
      }
    }
  }
  for (const obj of seen) {
    Object.freeze(obj);
  }
})
