// @ts-check
// Customers: what 4D keeps in the CustomersEntity and CustomersSelection classes.
//   POST /rest/Customers(1)/sendReminder ["Your order is ready"]        (this: customer 1)
//   POST /rest/Customers/totalOf?$filter="city='Paris'"                 (this: the customers the filter selects)
//   POST /rest/Customers/$entityset/<ID>/totalOf                          (this: an entity set of the session)

/** @type {GatehouseEntityFunctions} */
exports.entity = {
  /**
   * sendReminder drafts a reminder to this customer from its sales person. gatehouse scripts
   * have no network: the draft is answered (and kept in the session), for the client to send.
   * @param {string} text
   */
  sendReminder: function (text) {
    const sp = this.salesPerson;
    const reminder = {
      to: this.name,
      from: sp ? sp.firstname + " " + sp.lastname + " <" + sp.email + ">" : null,
      text: String(text || "A friendly reminder from your sales team."),
      totalPurchase: this.totalPurchase,
    };
    Session.storage.lastReminder = reminder;
    return reminder;
  },
};

/** @type {GatehouseSelectionFunctions} */
exports.selection = {
  /**
   * totalOf sums a numeric attribute over the selection (totalPurchase when none is named),
   * like 4D's entitySelection.sum().
   * @param {string} [attribute]
   */
  totalOf: function (attribute) {
    const attr = attribute || "totalPurchase";
    let total = 0;
    for (const customer of this) {
      const v = customer[attr];
      if (typeof v === "number") total += v;
    }
    return { count: this.length, total: total };
  },
};
exports.selection.totalOf.onHttpGet = true;
