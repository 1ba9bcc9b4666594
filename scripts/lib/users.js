// @ts-check
// Looking users up for a login, the same way on every login path (onRESTAuthentication.js
// and DataStore.js's authentify).
//
// - Lookups are exact (`===`): with `=`, "@" is a wildcard, so "a@" would find
//   ann@example.com (and every spelling would get its own throttle budget). `===` still
//   ignores case, like every string comparison of the query language.
// - A login costs one bcrypt check whether or not the user exists: for an unknown user the
//   password is checked against DUMMY_HASH, so the answer's timing does not tell which
//   names exist.

/**
 * A bcrypt hash of a random password that was thrown away, of the same cost (10) as the
 * demo's stored hashes (seed.json: "$2a$10$..."). If you store hashes of another cost,
 * replace it with one of that cost (`gatehouse hash-password --cost N`), or unknown users
 * will answer faster or slower than wrong passwords.
 */
const DUMMY_HASH = "$2a$10$Udg08/vNK9peOJiJ1rTrlOIKl2VgVwvwxpDtVi/X2GHNxuwAnxWK2";

/**
 * findUser returns the entity of dataClass whose attribute is exactly name (ignoring case;
 * "@" is not a wildcard), or null.
 * @param {string} dataClass e.g. "Users"
 * @param {string} attribute e.g. "name"; a constant of the script, never user input
 * @param {string} name what the user typed
 * @returns {GatehouseEntity | null}
 */
exports.findUser = function (dataClass, attribute, name) {
  return ds[dataClass].query(attribute + " === :1", name).first();
};

/**
 * checkPassword reports whether password matches user's bcrypt hash (its "password"
 * attribute). It always runs exactly one bcrypt check, against DUMMY_HASH when user is null
 * (or has no hash, or password is not a string), and is then false.
 * @param {GatehouseEntity | null} user an entity found by findUser, or null
 * @param {unknown} password what the user typed
 * @returns {user is GatehouseEntity}
 */
exports.checkPassword = function (user, password) {
  const usable = user !== null && typeof user.password === "string" && typeof password === "string";
  const ok = verifyPasswordHash(typeof password === "string" ? password : "", usable ? user.password : DUMMY_HASH);
  return usable && ok === true;
};
