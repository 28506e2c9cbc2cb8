// imagewatch console: loads server-rendered fragments and calls the JSON API with the bearer
// token, when the service has one. The token is asked once per tab and kept in sessionStorage:
// never in a URL, never in a cookie. No framework, no build step.
"use strict";

const TOKEN_KEY = "imagewatch.api-token";
let asking = null;

function askToken(message) {
  if (asking) return asking;
  const dialog = document.getElementById("token-dialog");
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  document.getElementById("token-error").textContent = message || "";
  asking = new Promise((resolve) => {
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      input.value = "";
      dialog.close();
      asking = null;
      resolve();
    };
  });
  if (!dialog.open) dialog.showModal();
  input.focus();
  return asking;
}

// fetch with the token; a 401 asks for it (again) and retries.
async function call(url, options = {}) {
  for (;;) {
    const headers = Object.assign({}, options.headers || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["Authorization"] = "Bearer " + token;
    const response = await fetch(url, Object.assign({}, options, {
      headers, credentials: "omit", cache: "no-store",
    }));
    if (response.status !== 401) return response;
    if (token) sessionStorage.removeItem(TOKEN_KEY);
    await askToken(token ? "That token was refused." : "");
  }
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body;
  } catch (_) {
    return { error: response.status + " " + response.statusText, field: null };
  }
}

// Loads the fragment a page names into #part.
async function loadPart(quiet) {
  const part = document.getElementById("part");
  if (!part) return;
  part.setAttribute("aria-busy", "true");
  const response = await call(part.dataset.part);
  if (response.ok) {
    const focusedAlert = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr[data-alert]") : null;
    part.innerHTML = await response.text();
    if (focusedAlert) {
      const again = part.querySelector(`tr[data-alert="${CSS.escape(focusedAlert.dataset.alert)}"] a.row-link`);
      if (again) again.focus();
    }
  } else if (!quiet) {
    const e = await errorText(response);
    part.innerHTML = "";
    const p = document.createElement("p");
    p.className = "notice";
    p.setAttribute("role", "alert");
    p.textContent = e.error || "Could not load this page.";
    part.appendChild(p);
  }
  part.setAttribute("aria-busy", "false");
  bind();
}

// Shows an API refusal next to the field it names (or at the form's foot).
function showErrors(form, body) {
  for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (!body) return;
  let slot = body.field ? form.querySelector(`[data-error-for="${CSS.escape(body.field)}"]`) : null;
  if (!slot) slot = form.querySelector('[data-error-for=""]');
  slot.textContent = body.error;
  const input = body.field ? form.querySelector(`[name="${CSS.escape(body.field)}"]`) : null;
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

async function send(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  return call(url, options);
}

function bindTriage() {
  const form = document.getElementById("triage-form");
  if (!form || form.dataset.bound) return;
  form.dataset.bound = "1";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const state = form.querySelector('input[name="state"]:checked');
    const body = { state: state ? state.value : "", note: form.note.value };
    const url = "/api/v1/alerts/" + encodeURIComponent(form.dataset.alert) + "/triage";
    const response = await send("POST", url, body);
    if (response.ok) {
      await loadPart();
      const now = document.getElementById("triage-now");
      if (now) { now.setAttribute("tabindex", "-1"); now.focus(); }
    } else {
      showErrors(form, await errorText(response));
    }
  });
}

function entryFrom(form) {
  const entry = {};
  for (const input of form.querySelectorAll("input[name]")) {
    const value = input.value.trim();
    if (!value) continue;
    entry[input.name] = input.dataset.list === "1"
      ? value.split(",").map((s) => s.trim()).filter(Boolean) : value;
  }
  return entry;
}

function bindChanges() {
  for (const form of document.querySelectorAll("form.entry-form")) {
    if (form.dataset.bound) continue;
    form.dataset.bound = "1";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showErrors(form, null);
      const response = await send("POST", "/api/v1/" + form.dataset.kind, entryFrom(form));
      if (response.ok) {
        form.reset();
        await loadPart();
      } else {
        showErrors(form, await errorText(response));
      }
    });
  }
  for (const button of document.querySelectorAll("button[data-edit]")) {
    if (button.dataset.bound) continue;
    button.dataset.bound = "1";
    button.addEventListener("click", () => {
      const entry = JSON.parse(button.dataset.entry);
      const form = document.querySelector(`form.entry-form[data-kind="${button.dataset.edit}"]`);
      form.reset();
      for (const input of form.querySelectorAll("input[name]")) {
        const v = entry[input.name];
        if (v !== undefined && v !== null) input.value = Array.isArray(v) ? v.join(", ") : String(v);
      }
      form.querySelector("input[name]").focus();
    });
  }
  for (const button of document.querySelectorAll("button[data-delete]")) {
    if (button.dataset.bound) continue;
    button.dataset.bound = "1";
    button.addEventListener("click", async () => {
      if (!window.confirm("Delete " + button.dataset.id + "?")) return;
      const url = "/api/v1/" + button.dataset.delete + "/" + encodeURIComponent(button.dataset.id);
      const response = await send("DELETE", url);
      if (!response.ok) window.alert((await errorText(response)).error);
      await loadPart();
    });
  }
}

function bind() {
  bindTriage();
  bindChanges();
}

// j / k move between the queue's rows; Enter follows the focused link.
document.addEventListener("keydown", (ev) => {
  if (ev.target.closest && ev.target.closest("input, textarea, select, dialog")) return;
  if (ev.key !== "j" && ev.key !== "k") return;
  const links = [...document.querySelectorAll("table.alerts a.row-link")];
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = ev.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
  links[at < 0 ? 0 : next].focus();
  ev.preventDefault();
});

// New alerts without a reload: on the queue's first page, the newest alert is polled and the
// page re-read when it changed.
let lastHead = null;
async function poll() {
  const part = document.getElementById("part");
  if (!part || part.dataset.live !== "1") return;
  try {
    const response = await call("/api/v1/alerts?limit=1");
    if (response.ok) {
      const body = await response.json();
      const newest = body.alerts[0];
      const head = newest ? newest.id + ":" + newest.revision : "";
      if (lastHead !== null && head !== lastHead) {
        await loadPart(true);
        document.getElementById("live").textContent =
          "New alerts arrived at " + new Date().toISOString().slice(11, 19) + " UTC.";
      }
      lastHead = head;
    }
  } catch (_) { /* the service is restarting; try again later */ }
  setTimeout(poll, 3000);
}

document.addEventListener("DOMContentLoaded", async () => {
  bind();
  await loadPart();
  poll();
});
