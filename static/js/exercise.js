// CheckpointExercise: a plain <textarea> editor with Tab handling, drafts kept in this browser,
// solved exercises marked in the exercise and in the chapter's table of contents as soon as a check
// says so, the verdict focused, and every Run button busy while a check runs.
(function () {
  "use strict";
  var INDENT = "    ";

  function lineStart(text, pos) { return text.lastIndexOf("\n", pos - 1) + 1; }

  // Tab indents (the selected lines, or at the caret), Shift+Tab dedents. Escape, then Tab,
  // leaves the editor as usual, so the keyboard is never trapped.
  var escaped = false;
  document.addEventListener("keydown", function (e) {
    var ta = e.target;
    if (!ta.classList || !ta.classList.contains("cx-editor")) return;
    if (e.key === "Escape") { escaped = true; return; }
    if (e.key !== "Tab" || e.ctrlKey || e.altKey || e.metaKey) { escaped = false; return; }
    if (escaped) { escaped = false; return; }
    e.preventDefault();
    var text = ta.value, s = ta.selectionStart, end = ta.selectionEnd;
    if (s === end && !e.shiftKey) {
      ta.setRangeText(INDENT, s, end, "end");
    } else {
      var from = lineStart(text, s);
      var block = text.slice(from, end);
      var lines = block.split("\n");
      var out = lines.map(function (l) {
        if (!e.shiftKey) return INDENT + l;
        var n = 0; while (n < INDENT.length && l.charAt(n) === " ") n++;
        return l.slice(n);
      }).join("\n");
      ta.setRangeText(out, from, end, "select");
      if (s === end) { var d = out.length - block.length; ta.setSelectionRange(Math.max(from, s + d), Math.max(from, s + d)); }
    }
    ta.dispatchEvent(new Event("input", { bubbles: true }));
  });

  function key(ta) { var box = ta.closest(".cx"); return box ? "cx-draft-" + box.getAttribute("data-exercise") : null; }
  document.addEventListener("input", function (e) {
    var ta = e.target;
    if (!ta.classList || !ta.classList.contains("cx-editor")) return;
    try { localStorage.setItem(key(ta), ta.value); } catch (err) { /* private mode: no drafts */ }
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-cx-reset]");
    if (!b) return;
    var ta = b.closest(".cx").querySelector(".cx-editor");
    ta.value = ta.getAttribute("data-scaffold");
    try { localStorage.removeItem(key(ta)); } catch (err) { /* nothing kept */ }
    ta.focus();
  });

  function markSolved(id) {
    var box = document.querySelector('.cx[data-exercise="' + id + '"]');
    if (!box) return;
    var badge = box.querySelector("[data-solved-badge]");
    if (badge) badge.hidden = false;
    // The section the exercise sits in: the nearest heading before it.
    var el = box, heading = null;
    while (el && !heading) {
      var prev = el.previousElementSibling;
      while (prev && !heading) {
        if (/^H[23]$/.test(prev.tagName) && prev.id) heading = prev;
        prev = prev.previousElementSibling;
      }
      el = el.parentElement;
    }
    if (!heading) return;
    document.querySelectorAll('.toc a[href="#' + CSS.escape(heading.id) + '"]').forEach(function (a) {
      if (a.classList.contains("cx-toc-solved")) return;
      a.classList.add("cx-toc-solved");
      var note = document.createElement("span");
      note.className = "cx-visually-hidden";
      note.textContent = " (" + (box.getAttribute("data-solved-label") || "solved") + ")";
      a.appendChild(note);
    });
  }

  function init() {
    var boxes = document.querySelectorAll(".cx[data-exercise]");
    if (!boxes.length) return;
    boxes.forEach(function (box) {
      var ta = box.querySelector(".cx-editor");
      if (!ta) return;
      try { var draft = localStorage.getItem(key(ta)); if (draft) ta.value = draft; } catch (err) { /* none */ }
    });
    fetch("/api/exercises/progress", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (rows) { Object.keys(rows).forEach(function (id) { if (rows[id].solved) markSolved(id); }); })
      .catch(function () { /* offline: the marks come with the next check */ });
  }
  // While any check runs, every exercise's Run button says so (one check per browser at a time).
  function syncBusy() {
    var busy = !!document.querySelector(".cx-pending");
    document.querySelectorAll(".cx-form button[type=submit]").forEach(function (b) {
      if (!b.hasAttribute("data-idle-label")) b.setAttribute("data-idle-label", b.textContent);
      b.textContent = busy ? b.getAttribute("data-busy-label") : b.getAttribute("data-idle-label");
      b.disabled = busy;
      b.setAttribute("aria-busy", busy ? "true" : "false");
    });
  }
  // New content from htmx: a verdict (or a refusal) gets the focus, a solved one its badges at
  // once. A poll swaps its own element out (outerHTML), so the new content is read from htmx:load.
  document.addEventListener("htmx:load", function (e) {
    var el = e.target;
    if (!el || !el.matches) return;
    var v = el.matches(".cx-verdict, .cx-refused") ? el : el.querySelector(".cx-verdict, .cx-refused");
    if (v) {
      if (v.getAttribute("data-status") === "solved") markSolved(v.getAttribute("data-exercise"));
      v.focus();
    }
    syncBusy();
  });
  document.addEventListener("htmx:afterRequest", function () { setTimeout(syncBusy, 0); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
