// Type declarations for gatehouse scripts (SPEC §5.7).
//
// Editors read this file to autocomplete and type-check the scripts in this
// folder: add `// @ts-check` at the top of a .js file. It describes the
// sandbox exactly; anything not declared here (setTimeout, process, fs...)
// does not exist at run time. The full contract is in engine/doc.go.

/** A privilege name as declared in roles.json (case-insensitive). */
type PrivilegeName = string;

/** The argument of Session.setPrivileges in all its forms. */
type PrivilegeGrant =
  | PrivilegeName
  | PrivilegeName[]
  | {
      /** One name, a comma-separated list, or an array of names. */
      privileges?: PrivilegeName | PrivilegeName[];
      /** Roles declared in roles.json. */
      roles?: string | string[];
      userName?: string;
      fullName?: string;
      /** Shown as the user's ID; a number is converted to text. */
      userID?: string | number;
    };

/** A JSON value: what Session.storage and function results may hold. */
type JSONValue = string | number | boolean | null | JSONValue[] | { [key: string]: JSONValue };

interface GatehouseSession {
  /**
   * Grants privileges (and optionally roles and the user's names) to the
   * session. Names unknown to roles.json are ignored. In force login mode
   * this takes a licence: returns false when none is free.
   */
  setPrivileges(grant: PrivilegeGrant): boolean;
  /** Whether the session holds the privilege, after includes and roles. */
  hasPrivilege(name: PrivilegeName): boolean;
  /** Every privilege the session holds, expanded. */
  getPrivileges(): PrivilegeName[];
  /** Drops the session's privileges (it stays non-guest in force login mode). */
  clearPrivileges(): void;
  /** True until privileges have been set once (force login mode). */
  isGuest(): boolean;
  /** A one-time passcode; a request with ?$4DSID=<token> resumes this session. */
  createOTP(lifespanSeconds?: number): string;
  /** Resumes the session a one-time passcode was made for. */
  restore(token: string): boolean;
  /** Closes the session when the call ends. */
  logout(): void;
  /** The session ID. */
  readonly id: string;
  /** The user name ("" for no user). */
  readonly userName: string;
  /** Inactivity timeout in minutes; assign to change it (the server clamps it). */
  idleTimeout: number;
  /** When the session expires if unused, ISO-8601 in UTC. */
  readonly expirationDate: string | null;
  /** A copy of the session's description. */
  readonly info: { [key: string]: JSONValue };
  /**
   * Data kept with the session across requests. JSON values only: it is
   * stored with JSON.stringify at the end of each call.
   */
  storage: { [key: string]: any };
}

/**
 * The caller's session. Every REST call has one; it is null only in a
 * module's top-level code while the server loads the scripts.
 */
declare const Session: GatehouseSession;

/** Writes to the server log, with the script's file and line. */
declare const console: {
  log(...values: any[]): void;
  info(...values: any[]): void;
  warn(...values: any[]): void;
  error(...values: any[]): void;
  debug(...values: any[]): void;
};

/** Whether password matches a bcrypt hash (false for a malformed hash). Uses the first 72 bytes. */
declare function verifyPasswordHash(password: string, hash: string): boolean;

/** A bcrypt hash of password (first 72 bytes). cost: 4 to 31, default 10. */
declare function generatePasswordHash(password: string, options?: { cost?: number }): string;

/** The lower-case hex digest of text's UTF-8 bytes. */
declare function generateDigest(text: string, algorithm: "sha256" | "sha512" | "md5" | "sha1"): string;

/**
 * Loads another script of the scripts folder: a relative path ("./lib/x",
 * "../lib/x.js"); ".js" is optional, a folder means its index.js.
 */
declare function require(path: string): any;

/** The current module (CommonJS). */
declare const module: { exports: any; readonly id: string };

/** The current module's exports. Exported functions are callable over REST. */
declare let exports: any;

/** This file, relative to the scripts folder ("lib/users.js"). */
declare const __filename: string;

/** This file's folder, relative to the scripts folder ("lib", or "."). */
declare const __dirname: string;

/**
 * What a script sees of a blob or picture attribute (null when empty): never its bytes, which
 * stay in the database and reach clients through REST. Assign null to clear the attribute;
 * assigning anything else throws (bytes come from POST /rest/$upload).
 */
interface GatehouseBinary {
  /** Size in bytes. */
  readonly size: number;
  /** MIME type kept with the bytes ("image/png"; "application/octet-stream" when unknown). */
  readonly type: string;
}

/** An entity of a dataclass: its attributes (a blob or picture is a GatehouseBinary or null), plus these methods. */
interface GatehouseEntity {
  [attribute: string]: any;
  save(): void;
  drop(): void;
  toObject(): { [key: string]: any };
}

/** A selection of entities. */
interface GatehouseSelection {
  readonly length: number;
  first(): GatehouseEntity | null;
  orderBy(order: string): GatehouseSelection;
  slice(start: number, end?: number): GatehouseSelection;
  toArray(): GatehouseEntity[];
  /** Always true: tells a selection from an entity (a parameter may be either). */
  readonly isSelection: true;
  [Symbol.iterator](): Iterator<GatehouseEntity>;
  [key: string]: any;
}

/** A dataclass of model.json. */
interface GatehouseDataClass {
  query(queryString: string, ...params: any[]): GatehouseSelection;
  all(): GatehouseSelection;
  get(key: any): GatehouseEntity | null;
  "new"(): GatehouseEntity;
  [key: string]: any;
}

/**
 * The datastore: ds.<DataClass> for every dataclass of model.json. Available
 * inside functions, not in a module's top-level code.
 */
declare const ds: { [dataClass: string]: GatehouseDataClass & any };

/**
 * An exported function: callable over REST; `onHttpGet = true` opens it to GET
 * (arguments from ?$params='[...]'). Arguments are JSON values, except 4D's
 * entity and selection parameters ({"__DATACLASS","__ENTITY":true,"__KEY"},
 * {"__DATASET","__ENTITIES":true}), which arrive as a GatehouseEntity and a
 * GatehouseSelection.
 */
type GatehouseFunction<This = any> = ((this: This, ...args: any[]) => any) & { onHttpGet?: boolean };

/**
 * Entity functions of scripts/{DataClass}.js, reached by POST /rest/{DataClass}({key})/{name}:
 * `this` is the entity. Type them with JSDoc:
 *
 *     /** @type {GatehouseEntityFunctions} *\/
 *     exports.entity = { sendReminder(text) { return this.name + ": " + text; } };
 */
type GatehouseEntityFunctions = { [name: string]: GatehouseFunction<GatehouseEntity> };

/**
 * Entity-selection functions of scripts/{DataClass}.js, reached by
 * POST /rest/{DataClass}/{name}?$filter=…&$orderby=… and
 * POST /rest/{DataClass}/$entityset/{ID}/{name}: `this` is the selection.
 *
 *     /** @type {GatehouseSelectionFunctions} *\/
 *     exports.selection = { totalOf(attr) { let t = 0; for (const e of this) t += e[attr]; return t; } };
 */
type GatehouseSelectionFunctions = { [name: string]: GatehouseFunction<GatehouseSelection> };

/**
 * The exports of a singleton file, scripts/singletons/{Name}.js, reached by
 * POST /rest/$singleton/{Name}/{name}. `this` is the module's exports. A
 * singleton lives for one call: module-level variables start afresh at every
 * call (keep state in Session.storage or in the datastore).
 *
 *     /** @type {GatehouseSingleton} *\/
 *     module.exports = { today() { return new Date().toISOString().slice(0, 10); } };
 */
type GatehouseSingleton = { [name: string]: GatehouseFunction };
