// @ts-check
// fillSession initialises a sales person's session (the 4D documentation's fillSession
// method): their name, their privileges, and their three best customers in Session.storage.

/** @param {any} sales a SalesPersons entity */
exports.fillSession = function (sales) {
  const info = { userName: sales.firstname + " " + sales.lastname };
  Session.setPrivileges({ roles: "SalesTeam", userName: sales.email, fullName: info.userName });
  Session.storage.info = info;
  Session.storage.myTop3 = sales.customers.orderBy("totalPurchase desc").slice(0, 3).toArray()
    .map((/** @type {GatehouseEntity} */ c) => ({ name: c.name, totalPurchase: c.totalPurchase }));
};
