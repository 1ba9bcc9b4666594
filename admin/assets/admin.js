// The admin console: signs in through the server's own login, then polls
// /admin/api/state and renders it. Plain DOM, no framework, no build step.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const forceLogin = document.querySelector('meta[name="gatehouse-login"]').content === "force";
  const pollEvery = 5000;
  let timer = null;
  let closeAllArmed = null;

  function show(id, on) { $(id).hidden = !on; }

  let noticeAt = 0; // when the info banner (an action's result) was shown

  function banner(text, info) {
    noticeAt = info ? Date.now() : 0;
    const b = $("banner");
    b.textContent = text || "";
    b.className = info ? "banner info" : "banner";
    b.hidden = !text;
  }

  // errorText turns a failed answer into words for people.
  async function errorText(r) {
    let msg = "";
    try { const body = await r.json(); msg = body.__ERROR ? body.__ERROR[0].message : ""; } catch (e) { /* not JSON */ }
    switch (r.status) {
      case 402: return "No licence is free: every licence is held. Close a session elsewhere, or raise --licenses.";
      case 403: return "The server refused this request as cross-site (" + (msg || "forbidden") + ").";
      case 429: {
        const s = r.headers.get("Retry-After");
        return "Too many failed attempts. Try again" + (s ? " in " + s + " s." : " later.");
      }
      case 503: return "The server cannot do this now (" + (msg || "unavailable") + "). It will be retried.";
    }
    return msg || ("The server answered " + r.status + ".");
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function cell(tr, label, content) {
    const td = document.createElement("td");
    td.dataset.label = label;
    if (content instanceof Node) td.appendChild(content); else td.textContent = content == null ? "" : String(content);
    tr.appendChild(td);
    return td;
  }

  function pills(names, cls) {
    const span = document.createElement("span");
    (names || []).forEach((n) => {
      const p = document.createElement("span");
      p.className = "pill" + (cls ? " " + cls : "");
      p.textContent = n;
      span.appendChild(p);
    });
    return span;
  }

  function chart(history, max) {
    const el = $("licence-chart");
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 300 60");
    svg.setAttribute("preserveAspectRatio", "none");
    const top = Math.max(1, max || 0, ...history.map((s) => s.used));
    if (history.length > 0) {
      const t0 = new Date(history[0].at).getTime();
      const t1 = Math.max(t0 + 1, new Date(history[history.length - 1].at).getTime());
      const pts = history.map((s) => [
        ((new Date(s.at).getTime() - t0) / (t1 - t0)) * 300,
        58 - (s.used / top) * 54,
      ]);
      if (pts.length === 1) pts.push([300, pts[0][1]]);
      const d = pts.map((p, i) => (i ? "L" : "M") + p[0].toFixed(1) + " " + p[1].toFixed(1)).join(" ");
      const area = document.createElementNS(ns, "path");
      area.setAttribute("class", "area");
      area.setAttribute("d", d + " L300 60 L0 60 Z");
      const line = document.createElementNS(ns, "path");
      line.setAttribute("class", "line");
      line.setAttribute("d", d);
      svg.append(area, line);
    }
    if (max) {
      const cap = document.createElementNS(ns, "line");
      cap.setAttribute("class", "cap");
      cap.setAttribute("x1", "0"); cap.setAttribute("x2", "300");
      cap.setAttribute("y1", "4"); cap.setAttribute("y2", "4");
      svg.appendChild(cap);
    }
    el.replaceChildren(svg);
  }

  function render(st) {
    show("signin", false);
    show("console", true);
    show("who", true);
    $("who-name").textContent = st.you.userName || "(no name)";
    $("licences-used").textContent = st.licences.used;
    $("licences-max").textContent = st.licences.max ? st.licences.max : "unlimited";
    chart(st.history || [], st.licences.max);
    $("sessions-count").textContent = st.sessions.sessions;
    $("sessions-guests").textContent = st.sessions.guests;
    $("sessions-licensed").textContent = st.sessions.licensed;
    $("generation-seq").textContent = st.generation.seq;
    $("generation-loaded").textContent = when(st.generation.loaded);
    show("reload-ok", !st.lastReloadError);
    show("reload-error", !!st.lastReloadError);
    $("reload-error-text").textContent = st.lastReloadError || "";

    const body = $("sessions").querySelector("tbody");
    body.replaceChildren();
    st.sessionList.forEach((s) => {
      const tr = document.createElement("tr");
      tr.dataset.session = s.session;
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = s.session;
      if (s.you) { const y = pills(["you"], "you"); tag.append(" ", y); }
      cell(tr, "Session", tag);
      cell(tr, "User", s.userName || (s.guest ? "guest" : ""));
      cell(tr, "Privileges", pills(s.privileges));
      cell(tr, "Roles", pills(s.roles));
      cell(tr, "State", s.state + (s.licensed ? " · licensed" : ""));
      cell(tr, "Created", when(s.created));
      cell(tr, "Expires", when(s.expires));
      cell(tr, "Address", s.remoteAddr);
      const act = document.createElement("span");
      if (!s.you) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "danger close-session";
        b.dataset.session = s.session;
        b.textContent = "Close";
        b.addEventListener("click", () => closeSession(s.session, b));
        act.appendChild(b);
      }
      cell(tr, "", act);
      body.appendChild(tr);
    });
    const others = st.sessionList.filter((s) => !s.you).length;
    show("sessions-empty", others === 0);
    $("close-all").disabled = others === 0;
    show("sessions-truncated", st.truncated);
    $("sessions-truncated").textContent = st.truncated ? "Only the first " + st.sessionList.length + " sessions are listed." : "";

    const tb = $("throttle").querySelector("tbody");
    tb.replaceChildren();
    (st.throttled || []).forEach((c) => {
      const tr = document.createElement("tr");
      tr.dataset.key = c.key;
      cell(tr, "Key", (c.kind === "user" ? "user " : c.kind === "address" ? "address " : "") + c.subject);
      cell(tr, "Failures", c.failures + (c.limit ? " of " + c.limit : ""));
      cell(tr, "Status", c.throttled ? pills(["throttled"], "throttled") : "counting");
      cell(tr, "Window ends", when(c.until));
      const b = document.createElement("button");
      b.type = "button";
      b.className = "clear-key";
      b.textContent = "Clear";
      b.addEventListener("click", () => clearKey(c.key, b));
      cell(tr, "", b);
      tb.appendChild(tr);
    });
    const none = !st.throttled || st.throttled.length === 0;
    show("throttle-empty", none);
    show("throttle", !none);
    $("updated").textContent = new Date().toLocaleTimeString();
  }

  function signInForm(message) {
    show("console", false);
    show("who", false);
    show("signin", true);
    $("signin-error").textContent = message || "";
    show("signin-error", !!message);
  }

  // refresh loads the state; not signed in (or not WebAdmin) shows the form.
  async function refresh() {
    let r;
    try {
      r = await fetch("/admin/api/state", { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (e) {
      banner("The server cannot be reached. Retrying…");
      return false;
    }
    if (r.ok) {
      // An error is over once the state loads; an action's result stays a little while.
      if (!noticeAt || Date.now() - noticeAt > 8000) banner("");
      render(await r.json());
      return true;
    }
    if (r.status === 401) {
      stop();
      signInForm($("signin-error").hidden ? "" : $("signin-error").textContent);
      banner("");
      return false;
    }
    if (r.status === 402) {
      signInForm("No licence is free for a new session: every licence is held.");
      return false;
    }
    banner(await errorText(r));
    return false;
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
  }

  async function signIn(ev) {
    ev.preventDefault();
    const user = $("user").value, password = $("password").value;
    const button = $("signin-button");
    if (!user || !password) { signInForm("Enter a user name and a password."); return; }
    button.disabled = true;
    button.textContent = "Signing in…";
    try {
      // A session that is already signed in (as someone else) is not signed in again by
      // the server's login: start from none.
      await post("/rest/$directory/logout");
      let r, scriptAnswer = "";
      if (forceLogin) {
        r = await post("/rest/$catalog/authentify", [{ identifier: user, password: password }]);
        if (r.ok) { try { scriptAnswer = (await r.clone().json()).result; } catch (e) { /* none */ } }
      } else {
        r = await fetch("/rest/$directory/login", {
          method: "POST", credentials: "same-origin",
          headers: { "username-4D": user, "password-4D": password, "session-4D-length": "60" },
        });
      }
      if (r.status === 401 && !forceLogin) { signInForm("Wrong user name or password."); return; }
      if (!r.ok) { signInForm(await errorText(r)); return; }
      const st = await fetch("/admin/api/state", { credentials: "same-origin" });
      if (st.ok) { $("password").value = ""; render(await st.json()); start(); return; }
      if (st.status === 401) {
        signInForm(forceLogin && typeof scriptAnswer === "string" && scriptAnswer && !/success/i.test(scriptAnswer)
          ? scriptAnswer + "."
          : "This account does not hold the WebAdmin privilege.");
        return;
      }
      signInForm(await errorText(st));
    } catch (e) {
      signInForm("The server cannot be reached.");
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  }

  async function act(url, body, done) {
    const r = await post(url, body);
    if (r.ok) {
      const answer = await r.json();
      banner(done(answer), true);
    } else if (r.status === 401) {
      signInForm("Your session has ended: sign in again.");
      return;
    } else {
      banner(await errorText(r));
    }
    await refresh();
  }

  function closeSession(tag, b) {
    b.disabled = true;
    act("/admin/api/sessions/close", { session: tag }, () => "Session " + tag + " closed.");
  }

  function clearKey(key, b) {
    b.disabled = true;
    act("/admin/api/throttle/clear", { key: key }, () => "Login attempts of " + key.replace(/^login-(ip|user):/, "") + " cleared.");
  }

  function closeAll() {
    const b = $("close-all");
    if (!closeAllArmed) {
      // A second click within a few seconds confirms (no blocking dialog).
      b.classList.add("confirm");
      b.textContent = "Click again to close them all";
      closeAllArmed = setTimeout(() => { disarm(); }, 4000);
      return;
    }
    disarm();
    act("/admin/api/sessions/close-all", {}, (a) => a.closed + (a.closed === 1 ? " session" : " sessions") + " closed.");
  }

  function disarm() {
    const b = $("close-all");
    clearTimeout(closeAllArmed);
    closeAllArmed = null;
    b.classList.remove("confirm");
    b.textContent = "Close all other sessions";
  }

  async function signOut() {
    await post("/rest/$directory/logout");
    stop();
    signInForm("You are signed out.");
  }

  function start() {
    stop();
    timer = setInterval(() => { if (!document.hidden) refresh(); }, pollEvery);
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("signin-form").addEventListener("submit", signIn);
    $("close-all").addEventListener("click", closeAll);
    $("sign-out").addEventListener("click", signOut);
    document.addEventListener("visibilitychange", () => { if (!document.hidden && timer) refresh(); });
    if (await refresh()) start();
  });
})();
