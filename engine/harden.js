// harden.js runs once in every new runtime, after the host globals are defined
// and before any script. It freezes every object reachable from the global
// object (and the extra roots the host passes in), so that nothing a call does
// to built-ins or globals can be seen by a later call on the same runtime.
//
// Freezing a prototype has a known side effect, the "override mistake": an
// assignment obj.toString = f fails when Object.prototype.toString is frozen,
// although obj has no toString of its own. Ordinary code does this (naming an
// error, using a plain object as a dictionary), so the properties such code
// assigns are turned into accessors whose setter defines the property on the
// receiver instead (the technique of SES / Hardened JavaScript).
(function harden(extraRoots) {
  'use strict';
  const { defineProperty, getOwnPropertyDescriptor, getPrototypeOf, ownKeys } = Reflect;
  const freeze = Object.freeze;

  function enable(obj, key) {
    const desc = getOwnPropertyDescriptor(obj, key);
    if (desc === undefined || !('value' in desc)) {
      return;
    }
    const value = desc.value;
    defineProperty(obj, key, {
      get: function () {
        return value;
      },
      set: function (v) {
        if (this === obj) {
          throw new TypeError("Cannot assign to read only property '" + String(key) + "' of a built-in object");
        }
        const ok = defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
        if (!ok) {
          throw new TypeError("Cannot assign to property '" + String(key) + "'");
        }
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }

  for (const key of ownKeys(Object.prototype)) {
    enable(Object.prototype, key);
  }
  enable(Function.prototype, 'constructor');
  enable(Function.prototype, 'toString');
  enable(Array.prototype, 'toString');
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];
  for (const E of errors) {
    for (const key of ['constructor', 'name', 'message', 'toString']) {
      enable(E.prototype, key);
    }
  }

  // Intrinsics that no global names: reach them through values that have them
  // in their prototype chain or as properties.
  const hidden = [
    function* () {},
    async function () {},
    async () => {},
    [][Symbol.iterator](),
    new Map()[Symbol.iterator](),
    new Set()[Symbol.iterator](),
    ''[Symbol.iterator](),
    ''.matchAll(/a/g),
    Object.getPrototypeOf(Int8Array),
    (function () {
      return arguments;
    })(),
  ];

  const seen = new Set();
  const queue = [];
  function add(v) {
    if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
      if (!seen.has(v)) {
        seen.add(v);
        queue.push(v);
      }
    }
  }
  add(globalThis);
  for (const v of hidden) {
    add(v);
  }
  for (const v of extraRoots) {
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
    freeze(obj);
  }
  return seen.size;
})
