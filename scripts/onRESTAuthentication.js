// @ts-check
// onRESTAuthentication decides who may open a session through POST /rest/$directory/login
// (and HTTP Basic) in default login mode — the 4D documentation's example, in JavaScript.
// Once it has accepted a session it is not called again for that session.

const { fillSession } = require("./lib/session");
const { findUser, checkPassword } = require("./lib/users");

/**
 * @param {string} userId the username-4D header (here: a sales person's email)
 * @param {string} password the password-4D header (or hashed-password-4D when isDigest)
 * @param {boolean} isDigest true when the client sent hashed-password-4D
 * @param {string} ip the client's address
 * @returns {boolean} true to open the session
 */
module.exports = function (userId, password, isDigest, ip) {
  if (userId === "" || isDigest) {
    // bcrypt hashes cannot be checked against a digest computed by the client
    return false;
  }
  // Exact lookups ("@" is no wildcard in them), and exactly one bcrypt check whoever the
  // user is, known or not (lib/users.js), so the answer's timing does not tell which exist.
  const sales = findUser("SalesPersons", "email", userId);
  if (sales !== null) {
    if (checkPassword(sales, password)) {
      fillSession(sales);
      return true;
    }
    return false;
  }
  // Staff accounts (the Users dataclass), e.g. the administrator.
  const user = findUser("Users", "name", userId);
  if (checkPassword(user, password)) {
    Session.setPrivileges({ privileges: "vip", roles: user.role ? [user.role] : [], userName: user.name, fullName: user.fullName });
    return true;
  }
  console.info("login refused", userId, ip);
  return false;
};
