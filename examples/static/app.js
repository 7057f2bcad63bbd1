// The browser demo of examples/src/bin/13_production.rs.
//
// Tokens are in HttpOnly cookies set by POST /auth/session: this script never
// handles them. It only reacts to the API's answers:
// - 401: the access token expired (the API says "The access token expired"), or
//   its cookie did (the browser drops it at Max-Age = the token lifetime, so the
//   API says no token came). Either way: refresh once (POST
//   /auth/session/refresh sends the refresh cookie) and retry the request;
// - 401 again, or a refused refresh: the session is over, show the login form.
"use strict";

const $ = (id) => document.getElementById(id);

function log(line) {
  $("log").textContent += line + "\n";
}

function showCookies() {
  $("cookies").textContent = JSON.stringify(document.cookie);
}

function setStatus(text) {
  $("status").textContent = text;
}

// One refresh at a time: concurrent 401s share it. Refresh tokens rotate and a
// replayed one revokes the whole session, so two parallel refreshes would log
// the user out.
let refreshing = null;
function refreshOnce() {
  if (!refreshing) {
    log("access token expired → refreshing");
    refreshing = fetch("/auth/session/refresh", { method: "POST", credentials: "same-origin" })
      .then((response) => {
        log(response.ok ? "refreshed" : "refresh refused (" + response.status + ")");
        return response.ok;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

async function api(path, options = {}) {
  const request = () => fetch(path, { credentials: "same-origin", ...options });
  let response = await request();
  if (response.status === 401 && (await refreshOnce())) {
    response = await request();
  }
  log(`${options.method || "GET"} ${path} → ${response.status}`);
  if (response.status === 401) setStatus("not logged in");
  return response;
}

async function login(event) {
  event.preventDefault();
  const response = await fetch("/auth/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  if (response.ok) {
    const body = await response.json();
    setStatus("logged in as " + body.sub);
    log("logged in as " + body.sub + " (roles: " + body.roles.join(", ") + ")");
  } else {
    setStatus("not logged in");
    log("login refused (" + response.status + ")");
  }
  showCookies();
}

async function me() {
  const response = await api("/api/me");
  if (response.ok) {
    const body = await response.json();
    setStatus("logged in as " + body.sub);
    log("hello " + body.sub + ", authenticated by " + body.via);
  }
  showCookies();
}

async function admin() {
  await api("/api/admin/users");
}

async function note() {
  await api("/api/notes", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "written from the browser" }),
  });
}

async function logout() {
  const response = await fetch("/auth/session", { method: "DELETE", credentials: "same-origin" });
  log("logged out (" + response.status + ")");
  setStatus("not logged in");
  showCookies();
}

$("login-form").addEventListener("submit", login);
$("me").addEventListener("click", me);
$("admin").addEventListener("click", admin);
$("note").addEventListener("click", note);
$("logout").addEventListener("click", logout);
showCookies();
