// The browser demo that the book's app serves at / (examples/ch14-production); chapter 10 of the book
// walks through it.
//
// The tokens are in HttpOnly cookies set by the server: this script never sees
// them. It follows the client rule of chapter 9 on the API's answers alone:
// on a 401, refresh once, then retry; on a second 401, the session is over.
// No framework, no build step: what is here is what runs.
"use strict";

const $ = (id) => document.getElementById(id);

// The request log: one line per request, as it happens.
function log(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  const time = document.createElement("time");
  time.textContent = new Date().toTimeString().slice(0, 8);
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = text;
  item.append(time, " ", what);
  $("log").append(item);
  item.scrollIntoView({ block: "nearest" });
}

// Who is logged in, with which roles (as the API reports them).
function showUser(user) {
  $("status").textContent = user ? "logged in as " + user.sub : "not logged in";
  $("roles").replaceChildren(
    ...(user ? user.roles : []).map((role) => {
      const badge = document.createElement("span");
      badge.className = "role";
      badge.textContent = role;
      return badge;
    }),
  );
  $("cookies").textContent = JSON.stringify(document.cookie);
}

// ANCHOR: countdown
// The access cookie is HttpOnly: the page cannot read the token's `exp`. The
// login and refresh answers say `expires_in` instead, in seconds from now, so
// the countdown needs no agreement between the browser's clock and the
// server's. Kept in localStorage, which every tab of this origin shares: a
// refresh in one tab moves the countdown of all. Times and lifetimes only,
// never a token.
const COOKIES = "jwt-demo:cookies";

function remember(expiresIn) {
  const now = Date.now();
  const state = { setAt: now, expiresAt: now + expiresIn * 1000, lifetime: expiresIn };
  localStorage.setItem(COOKIES, JSON.stringify(state));
  tick();
}

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(COOKIES));
  } catch {
    return null;
  }
}

function tick() {
  const state = remembered();
  const left = state && Math.max(0, Math.ceil((state.expiresAt - Date.now()) / 1000));
  $("countdown").textContent = !state
    ? "no access token"
    : left > 0
      ? `the access token expires in ${left} s`
      : "the access token has expired: the next call refreshes it";
  $("lifetime").max = state?.lifetime || 1;
  $("lifetime").value = left || 0;
}
setInterval(tick, 250);
// ANCHOR_END: countdown

// When this browser last got new cookies (login or refresh), in any tab.
function cookiesSetAt() {
  return remembered()?.setAt ?? 0;
}

function loggedOut(why) {
  localStorage.removeItem(COOKIES);
  showUser(null);
  tick();
  log("info", why);
}

// ANCHOR: api
// Every API call goes through here. The decision is on the status alone, never
// on `error_description` (RFC 6750 §3 leaves it to people and logs): a browser
// drops an expired cookie, so its request carries no token and the 401 says
// nothing about expiry. A refused refresh is not final either, since another
// tab may have refreshed the shared cookies meanwhile: the retry decides.
async function api(method, path, body) {
  const send = async (note) => {
    const sentAt = Date.now();
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body ? { "content-type": "application/json" } : {},
      body: body && JSON.stringify(body),
    });
    log(response.ok ? "ok" : "refused", `${method} ${path} → ${response.status}${note}`);
    return { response, sentAt };
  };
  let { response, sentAt } = await send("");
  if (response.status === 401) {
    await refreshAfter(sentAt); // once
    ({ response } = await send(" (retry)"));
    if (response.status === 401) loggedOut("the session is over: log in again");
  }
  return response;
}
// ANCHOR_END: api

// ANCHOR: single_flight
// One refresh at a time. Refresh tokens rotate: each works once, and a second
// use of one looks like a theft to the server, which revokes the session
// (chapter 10). So the 401s of concurrent calls in this page share the
// refresh in flight, and each retries once it is done.
let refreshing = null;

function refreshAfter(sentAt) {
  if (!refreshing) {
    refreshing = oneTabAtATime(() => refreshUnlessRenewed(sentAt)).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}
// ANCHOR_END: single_flight

// ANCHOR: tabs
// The tabs of one browser share its cookies, the refresh cookie too: two tabs
// refreshing at once would present the same refresh token twice. The Web Locks
// API grants a named lock to one tab at a time, across every tab and window of
// this origin. A tab that finds the lock taken waits for the other tab's
// refresh to end, then only retries: the shared cookies are new by then.
// Whoever holds the lock sends the refresh cookie the browser holds at that
// moment, which the tab before it has already replaced: a refresh token is
// never presented twice, whatever the timing.
const LOCK = "jwt-demo:refresh";

function oneTabAtATime(task) {
  // Web Locks needs a secure context (https, or http://localhost).
  if (!navigator.locks) return task();
  return navigator.locks.request(LOCK, { ifAvailable: true }, async (lock) => {
    if (lock) return task();
    await navigator.locks.request(LOCK, () => {});
    log("info", "another tab refreshed: no refresh needed");
  });
}

async function refreshUnlessRenewed(sentAt) {
  // This 401 may be late news: the cookies were renewed after the request
  // left (by this tab, or by another one whose localStorage write has reached
  // this tab by now; Chrome propagates those asynchronously, so this is a
  // shortcut, and the lock above is the guarantee).
  if (cookiesSetAt() > sentAt) {
    log("info", "cookies renewed since that request left: no refresh needed");
    return;
  }
  const response = await fetch("/auth/session/refresh", {
    method: "POST",
    credentials: "same-origin",
  });
  if (response.ok) {
    const { expires_in } = await response.json();
    remember(expires_in);
    log("refresh", `POST /auth/session/refresh → ${response.status}: rotated, new cookies, the old refresh token is spent`);
  } else {
    log("refused", `POST /auth/session/refresh → ${response.status}: refused`);
  }
}
// ANCHOR_END: tabs

// Other tabs write the shared state too: follow them.
window.addEventListener("storage", (event) => {
  if (event.key !== COOKIES) return;
  tick();
  if (event.newValue === null) {
    showUser(null);
    log("info", "logged out in another tab");
  } else {
    log("info", "another tab renewed the cookies");
  }
});

async function login(event) {
  event.preventDefault();
  const response = await fetch("/auth/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  if (response.ok) {
    const user = await response.json();
    remember(user.expires_in);
    showUser(user);
    log("ok", `POST /auth/session → ${response.status}: logged in as ${user.sub} (roles: ${user.roles.join(", ")})`);
  } else {
    log("refused", `POST /auth/session → ${response.status}: login refused`);
    showUser(null);
  }
}

async function me() {
  const response = await api("GET", "/api/me");
  if (response.ok) {
    const user = await response.json();
    showUser(user);
    log("info", `hello ${user.sub} (roles: ${user.roles.join(", ")}), authenticated by ${user.via}`);
  }
}

async function admin() {
  await api("GET", "/api/admin/users");
}

async function note() {
  await api("POST", "/api/notes", { text: "written from the browser" });
}

// Two calls at the same moment, both 401 once the access token has expired:
// they share one refresh.
async function both() {
  await Promise.all([me(), admin()]);
}

async function logout() {
  const response = await fetch("/auth/session", { method: "DELETE", credentials: "same-origin" });
  log(response.ok ? "ok" : "refused", `DELETE /auth/session → ${response.status}: session revoked, cookies deleted`);
  loggedOut("logged out");
}

$("login-form").addEventListener("submit", login);
$("me").addEventListener("click", me);
$("admin").addEventListener("click", admin);
$("note").addEventListener("click", note);
$("both").addEventListener("click", both);
$("logout").addEventListener("click", logout);
showUser(null);
tick();
// A session from an earlier visit (or another tab): ask the API who we are.
if (remembered()) me();
