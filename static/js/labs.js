// TransferLearningVisualizer and the labs. Progressive enhancement: htmx fetches, this only
// shows and hides what the server already rendered.
(function () {
  "use strict";

  // A prediction answers the question, then reveals torch's real outcome (already in the page,
  // hidden) with the feedback the server wrote for that answer.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-predict]");
    if (!button) return;
    var box = button.closest(".tl-predict");
    var diagram = button.closest(".tl-diagram");
    if (!box || !diagram) return;
    var answer = button.getAttribute("data-predict");
    box.querySelectorAll("[data-predict]").forEach(function (b) {
      if (b.hasAttribute("aria-pressed")) b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    box.querySelectorAll(".tl-feedback").forEach(function (p) {
      p.hidden = p.getAttribute("data-answer") !== answer;
      if (!p.hidden) p.setAttribute("role", "status");
    });
    var result = diagram.querySelector(".tl-result");
    if (result) result.hidden = false;
    diagram.setAttribute("data-revealed", answer);
  });

  // A number field fires "change" again when it loses focus (say, to the prediction buttons):
  // asking the same question twice would hide an outcome the learner has just revealed.
  function settings(form) { return new URLSearchParams(new FormData(form)).toString(); }
  function remember() {
    var form = document.getElementById("tl-form");
    if (form) form.setAttribute("data-shown", settings(form));
  }
  document.addEventListener("DOMContentLoaded", remember);
  // "Apply the fix" replaces the diagram, button included: keyboard focus moves to what changed.
  var focusCompare = false;
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("#tl-apply-fix")) focusCompare = true;
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!(e.detail && e.detail.elt && e.detail.elt.id === "tl-diagram")) return;
    remember();
    var compare = focusCompare && e.detail.elt.querySelector(".tl-compare");
    focusCompare = false;
    if (compare) { compare.setAttribute("tabindex", "-1"); compare.focus(); }
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (form && form.id === "tl-form" && form.getAttribute("data-shown") === settings(form)) e.preventDefault();
  });

  // A tensor's detail opens right under its row; pressing the row again closes it. One open at
  // a time, so the detail's heading id stays unique.
  function closeDetail(button) {
    var detail = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", "false");
    if (detail) { detail.hidden = true; detail.innerHTML = ""; }
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var button = e.detail && e.detail.elt;
    if (!button || !button.classList || !button.classList.contains("tl-rowbtn")) return;
    if (button.getAttribute("aria-expanded") === "true") {
      e.preventDefault();
      closeDetail(button);
    }
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (!target || !target.classList || !target.classList.contains("tl-detail")) return;
    var diagram = target.closest(".tl-diagram");
    if (diagram) {
      diagram.querySelectorAll(".tl-rowbtn[aria-expanded='true']").forEach(function (b) {
        if (b.getAttribute("aria-controls") !== target.id) closeDetail(b);
      });
    }
    target.hidden = false;
    var button = diagram && diagram.querySelector(".tl-rowbtn[aria-controls='" + target.id + "']");
    if (button) button.setAttribute("aria-expanded", "true");
  });
})();

// LoadingClinic: the case list marks the case on screen and how this browser met each case:
// "solved" when the first fix it chose was the right one, "explored" when it found the fix after
// a wrong one (trying every fix in turn is not solving).
(function () {
  "use strict";
  var KEY = "checkpoint-lab.clinic.cases";  // case id -> {first: first fix was right, fixed: ever fixed}

  function cases() {
    try {
      var v = JSON.parse(localStorage.getItem(KEY) || "{}");
      return v && typeof v === "object" && !Array.isArray(v) ? v : {};
    } catch (e) { return {}; }
  }
  function mark() {
    var all = cases();
    document.querySelectorAll(".cl-cases [data-case]").forEach(function (button) {
      var c = all[button.getAttribute("data-case")] || {};
      var state = c.fixed ? (c.first ? "solved" : "explored") : "";
      button.querySelectorAll(".cl-mark").forEach(function (m) { m.hidden = m.getAttribute("data-mark") !== state; });
      button.classList.toggle("cl-solved", state === "solved");
      button.classList.toggle("cl-explored", state === "explored");
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".cl-cases [data-case]");
    if (!button) return;
    button.parentElement.querySelectorAll("[data-case]").forEach(function (b) {
      if (b === button) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    var node = e.detail && e.detail.target && e.detail.target.querySelector(".cl-result[data-case][data-fixed]");
    if (!node) return;
    var all = cases();
    var id = node.getAttribute("data-case");
    var fixed = node.getAttribute("data-fixed") === "true";
    if (!all[id]) all[id] = {first: fixed, fixed: false};  // only the first fix chosen sets `first`
    all[id].fixed = all[id].fixed || fixed;
    try { localStorage.setItem(KEY, JSON.stringify(all)); } catch (err) { /* private mode: marks last this visit */ }
    mark();
  });
})();

// CheckpointInspector: a file above the upload limit is not sent whole. Its head (torch's zip
// writer puts data.pkl first; safetensors its JSON header) and its tail (the zip's directory) go
// with its real size, and the server reads it from its header only. Without this script the
// server answers such a file with a page that says so.
(function () {
  "use strict";
  function bigFile(form) {
    var input = form && form.querySelector("input[type='file']");
    var file = input && input.files && input.files[0];
    return file && file.size > Number(form.getAttribute("data-max-bytes")) ? file : null;
  }
  function binarySize(n) {
    var units = [["GiB", 1073741824], ["MiB", 1048576], ["KiB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) return (n / units[i][1]).toFixed(1).replace(/\.0$/, "") + "\u00a0" + units[i][0];
    }
    return n + "\u00a0B";
  }
  // Said as soon as the file is picked: only part of it will leave the learner's machine.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("form[data-head-bytes] input[type='file']")) return;
    var note = document.getElementById(input.getAttribute("aria-describedby"));
    var file = bigFile(input.form);
    if (note) note.textContent = file ? note.getAttribute("data-template").replace("{size}", binarySize(file.size)) : "";
  });
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (!form || !form.matches || !form.matches("form[data-head-bytes]")) return;
    var file = bigFile(form);
    if (!file) return;
    var tail = Math.min(Number(form.getAttribute("data-tail-bytes")), file.size);
    var head = Math.min(Number(form.getAttribute("data-head-bytes")), file.size - tail);
    var data = e.detail.formData;
    data.delete("file");
    data.set("size", String(file.size));
    data.set("head", file.slice(0, head), file.name);
    if (tail) data.set("tail", file.slice(file.size - tail), file.name);
  });
})();
