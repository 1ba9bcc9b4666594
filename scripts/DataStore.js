// @ts-check
// Datastore functions: every exported function is callable at POST /rest/$catalog/<name>,
// subject to roles.json ("execute"). authentify is always callable, by guests too.

const { findUser, checkPassword } = require("./lib/users");

/**
 * authentify is the login of force login mode (the 4D documentation's example): it checks
 * the credentials against the Users dataclass and, when they are right, grants the session
 * its privileges — which takes a licence.
 * @param {{identifier: string, password: string}} credentials
 * @returns {string}
 */
exports.authentify = function (credentials) {
  if (!credentials || typeof credentials.identifier !== "string") {
    return "Wrong user";
  }
  // An exact lookup ("@" is no wildcard), and one bcrypt check even for an unknown user
  // (lib/users.js), so the answer's timing does not tell which names exist.
  const user = findUser("Users", "name", credentials.identifier);
  const passwordOK = checkPassword(user, credentials.password);
  if (user !== null) {
    if (passwordOK) {
      const granted = Session.setPrivileges({
        privileges: "vip",
        roles: user.role ? [user.role] : [],
        userName: user.name,
        fullName: user.fullName,
      });
      return granted ? "Authentication successful" : "No licence available";
    }
    return "Wrong password";
  }
  return "Wrong user";
};

/** whoAmI shows what the session holds (handy when trying things with curl). */
exports.whoAmI = function () {
  return {
    userName: Session.userName,
    guest: Session.isGuest(),
    privileges: Session.getPrivileges(),
    storage: Session.storage,
    expires: Session.expirationDate,
  };
};
