// Type-level checks of scripts/gatehouse.d.ts beyond what the demo scripts use
// (engine/dts_test.go runs tsc on this file, the declarations and the demo scripts).

const entityFunctions: GatehouseEntityFunctions = {
  touch() {
    this.save();
    return this.toObject();
  },
};

const selectionFunctions: GatehouseSelectionFunctions = {
  size() {
    const first = this.first();
    return this.length + (first === null ? 0 : 1);
  },
};

const singleton: GatehouseSingleton = {
  today() {
    return new Date().toISOString().slice(0, 10);
  },
};
singleton.today.onHttpGet = true;

function grants(): boolean[] {
  return [
    Session.setPrivileges("admin"),
    Session.setPrivileges(["admin", "sales"]),
    Session.setPrivileges({ privileges: "sales", roles: ["Manager"], userName: "ann", userID: 7 }),
  ];
}

// @ts-expect-error: a grant is a name, a list of names or an object, never a number
Session.setPrivileges(42);

// @ts-expect-error: the sandbox has no timers
setTimeout(grants, 1);

// @ts-expect-error: nor a process
process.exit(1);
