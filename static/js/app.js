/* Run Monitor dashboard behaviour. No inline scripts and no eval (CSP: script-src 'self'). */
(function () {
  "use strict";

  function banner() { return document.getElementById("error-banner"); }

  function showError(text) {
    var el = banner();
    if (!el) { return; }
    el.querySelector("[data-banner-text]").textContent = text;
    el.hidden = false;
  }

  function hideError() {
    var el = banner();
    if (el && el.dataset.sticky !== "true") { el.hidden = true; }
  }

  function messageFrom(xhr) {
    // Error partials carry their text in [data-message]; read it as text, never as HTML.
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var node = doc.querySelector("[data-message]");
      if (node && node.textContent.trim()) { return node.textContent.trim(); }
    } catch (e) { /* fall through to the generic text */ }
    if (xhr.status === 503) { return "The data store is unavailable. Retrying shortly; nothing was changed."; }
    if (xhr.status === 403) { return "Not allowed (" + xhr.status + ")."; }
    if (xhr.status === 404) { return "Not found (" + xhr.status + ")."; }
    return "The server answered with an error (" + xhr.status + "). Try again.";
  }

  document.addEventListener("htmx:responseError", function (evt) {
    showError(messageFrom(evt.detail.xhr));
  });

  document.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check your connection; the page keeps retrying.");
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.successful) { hideError(); }
  });

  document.addEventListener("click", function (evt) {
    if (evt.target instanceof Element && evt.target.closest("[data-banner-close]")) { hideError(); }
  });

  // Pollers ([data-poll]) pause while the tab is hidden and refresh at once when it is shown.
  // They also wait while a disclosure inside them is open (an operator typing an ack note):
  // the swap would throw the half-written form away.
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.hasAttribute("data-poll")) { return; }
    if (document.visibilityState === "hidden" || elt.querySelector("details[open]")) {
      evt.preventDefault();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !window.htmx) { return; }
    document.querySelectorAll("[data-poll]").forEach(function (elt) { window.htmx.trigger(elt, "poll-now"); });
  });

  // Relative ages ("3 min ago") stay current without asking the server: the same wording as
  // the `age` template filter, recomputed from each <time data-age datetime=...>.
  function ageText(seconds) {
    if (seconds < 0) { return "in the future"; }
    if (seconds < 45) { return "just now"; }
    if (seconds < 3600) { return Math.max(1, Math.round(seconds / 60)) + " min ago"; }
    if (seconds < 86400) { return Math.floor(seconds / 3600) + " h ago"; }
    var days = Math.floor(seconds / 86400);
    return days + " day" + (days === 1 ? "" : "s") + " ago";
  }

  function refreshAges(root) {
    var now = Date.now();
    (root || document).querySelectorAll("time[data-age]").forEach(function (elt) {
      var at = Date.parse(elt.getAttribute("datetime"));
      if (!isNaN(at)) { elt.textContent = ageText(Math.floor((now - at) / 1000)); }
    });
  }

  window.setInterval(function () {
    if (document.visibilityState === "visible") { refreshAges(document); }
  }, 15000);

  // Forms without htmx (no JS path is the same form): one submit only, against double clicks.
  document.addEventListener("submit", function (evt) {
    var form = evt.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-once") || form.hasAttribute("hx-post")) {
      return;
    }
    if (form.dataset.submitted === "true") { evt.preventDefault(); return; }
    form.dataset.submitted = "true";
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
})();
