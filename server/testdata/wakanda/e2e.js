// e2e.js drives the real wakanda-client (npm, 3.1.0) against a gatehouse server:
//   node e2e.js http://127.0.0.1:PORT
// Each step prints "ok <name>"; the first failure prints "FAIL <name>: <why>" and exits 1.
// Run by server/wakanda_test.go on a temporary app (Companies, Employees; see there).
"use strict";
const assert = require("assert");
const { WakandaClient } = require("wakanda-client");

const base = process.argv[2];
const client = new WakandaClient({ host: base });

async function step(name, fn) {
  try {
    await fn();
    console.log("ok " + name);
  } catch (e) {
    console.log("FAIL " + name + ": " + (e && (e.stack || e.message || JSON.stringify(e))));
    process.exit(1);
  }
}

(async () => {
  let ds;
  await step("login", async () => {
    assert.strictEqual(await client.directory.login("admin", "secret"), true);
  });
  await step("catalog", async () => {
    ds = await client.getCatalog();
    assert.ok(ds.Employees && ds.Companies, "dataclasses in the catalog");
  });

  let page;
  await step("query with filter, placeholders, order and page size", async () => {
    page = await ds.Employees.query({ filter: "salary > :1", params: [1500], orderBy: "salary desc", pageSize: 5 });
    assert.strictEqual(page._count, 20, "count");
    assert.strictEqual(page.entities.length, 5, "page size");
    assert.strictEqual(page.entities[0].salary, 3500, "ordered");
  });
  await step("@ wildcard", async () => {
    const c = await ds.Employees.query({ filter: "lastName = :1", params: ["Name1@"], pageSize: 50 });
    assert.strictEqual(c._count, 11, "Name1, Name10..Name19");
  });
  await step("nextPage / prevPage / more", async () => {
    await page.nextPage();
    assert.strictEqual(page._first, 5);
    assert.strictEqual(page.entities[0].salary, 3000);
    await page.prevPage();
    assert.strictEqual(page._first, 0);
    assert.strictEqual(page.entities[0].salary, 3500);
    await page.more();
    assert.strictEqual(page.entities.length, 10, "more appends a page");
  });

  let emp;
  await step("find, change and save", async () => {
    emp = await ds.Employees.find(3);
    assert.strictEqual(emp.firstName, "First3");
    emp.firstName = "Changed";
    await emp.save();
    const again = await ds.Employees.find(3);
    assert.strictEqual(again.firstName, "Changed");
    assert.strictEqual(again._stamp, emp._stamp);
  });
  await step("stale save rejected", async () => {
    const a = await ds.Employees.find(4);
    const b = await ds.Employees.find(4);
    a.firstName = "A";
    await a.save();
    b.firstName = "B";
    let failed = false;
    try {
      await b.save();
    } catch (e) {
      failed = true;
    }
    assert.ok(failed, "the stale save must fail");
    assert.strictEqual((await ds.Employees.find(4)).firstName, "A");
  });
  await step("recompute persists nothing", async () => {
    const e = await ds.Employees.find(5);
    e.firstName = "Preview";
    await e.recompute();
    assert.strictEqual(e.firstName, "Preview");
    assert.strictEqual((await ds.Employees.find(5)).firstName, "First5");
  });
  await step("related 1->N fetch with paging", async () => {
    const co = await ds.Companies.find(1);
    await co.staff.fetch({ pageSize: 3 });
    assert.strictEqual(co.staff._count, 13, "staff of company 1");
    assert.strictEqual(co.staff.entities.length, 3);
    await co.staff.nextPage();
    assert.strictEqual(co.staff._first, 3);
    assert.strictEqual(co.staff.entities.length, 3);
  });
  await step("function collection and paging it", async () => {
    const c = await ds.Employees.highPaid();
    assert.strictEqual(c._count, 20);
    assert.ok(c.entities.length > 0);
    await c.nextPage();
    assert.ok(c._first > 0, "paged");
  });
  await step("create and delete", async () => {
    const e = ds.Employees.create({ firstName: "New", lastName: "Person", salary: 10 });
    await e.save();
    assert.ok(e._key, "a key");
    const key = e._key;
    await e.delete();
    let gone = false;
    try {
      await ds.Employees.find(key);
    } catch (err) {
      gone = true;
    }
    assert.ok(gone, "deleted");
  });
  await step("logout", async () => {
    assert.strictEqual(await client.directory.logout(), true);
  });
})();
