// Teacher dashboard: the scenario link is shown as the full address learners open, with a Copy
// button (the async clipboard needs https; a classroom is usually plain http on the LAN).
(function () {
  "use strict";
  function absolutise(root) {
    root.querySelectorAll("input[data-relative]").forEach(function (input) {
      // The server names the address learners use when this page is open on the laptop itself.
      input.value = (input.getAttribute("data-origin") || location.origin) + input.getAttribute("data-relative");
    });
  }
  function copy(text, done) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(text)); });
    } else {
      done(fallback(text));
    }
  }
  function fallback(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy-target"));
    if (!input) return;
    var body = document.body, label = button.textContent;
    copy(input.value, function (ok) {
      button.textContent = ok ? body.dataset.copied : body.dataset.copyFailed;
      if (!ok) { input.focus(); input.select(); }
      setTimeout(function () { button.textContent = label; }, 1600);
    });
  });
  // The scenario builder: a field whose value the server refused is marked invalid beside its
  // message (the messages arrive out of band, next to each field).
  function mark() {
    document.querySelectorAll(".tm-field-error").forEach(function (slot) {
      var field = document.getElementById(slot.id.replace(/-error$/, ""));
      if (!field) return;
      if (slot.textContent.trim()) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { absolutise(document); mark(); });
  document.addEventListener("htmx:afterSettle", function (e) { absolutise(e.target); mark(); });
})();
