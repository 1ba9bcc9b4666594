// @ts-check
// Dataclass functions of SalesPersons: POST /rest/SalesPersons/<name>.

/** myCustomers returns the logged-in sales person's customers, best first. */
exports.myCustomers = function () {
  // === is an exact match: with =, "@" in the user name would be a wildcard.
  const me = ds.SalesPersons.query("email === :1", Session.userName).first();
  return me === null ? null : me.customers.orderBy("totalPurchase desc");
};
