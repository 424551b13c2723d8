// Scenarios by link: a component's settings in the page's query pre-fill its form, and
// lock=<prefix>.<field>,… disables the named controls. The chapter page is the same for everyone
// (rendered once, cached), so this happens here, in the learner's browser.
//   <prefix>.<field> -> the control named <field> in that component's form(s):
//   sim. CheckpointSimulator (#cs-form; the control's id is #cs-<field>, and <field> is also
//        its name in POST /api/checkpoint-simulator/runs), tl. TransferLearningVisualizer
//        (#tl-form, #tl-ft-form), sd. StateDictExplorer (#sd-form), sl. SaveLoadLab (#sl-form).
// A locked control is disabled, so its value is added to the form's request here; a value the
// form cannot hold (a word in a number field, an unknown option) goes to the server as it is,
// and the form shows the server's own message in the page's language.
(function () {
  "use strict";
  var COMPONENTS = { sim: ["cs-form"], tl: ["tl-form", "tl-ft-form"], sd: ["sd-form"], sl: ["sl-form"] };
  // Forms that answer every change (the others wait for their button).
  var LIVE = { "tl-form": true, "sd-form": true, "sl-form": true };
  var NOTE = { zh: "老师已锁定", en: "locked by your teacher" };

  function settings() {
    var params = new URLSearchParams(location.search);
    var out = {}, locks = {};
    params.forEach(function (value, key) {
      var dot = key.indexOf(".");
      if (dot > 0 && COMPONENTS[key.slice(0, dot)]) {
        var prefix = key.slice(0, dot), name = key.slice(dot + 1);
        if (/^[a-z_]{1,40}$/.test(name)) (out[prefix] = out[prefix] || {})[name] = value;
      }
    });
    (params.get("lock") || "").split(",").forEach(function (item) {
      var dot = item.indexOf(".");
      var prefix = item.slice(0, dot), name = item.slice(dot + 1);
      if (dot > 0 && COMPONENTS[prefix] && /^[a-z_]{1,40}$/.test(name)) (locks[prefix] = locks[prefix] || {})[name] = true;
    });
    return { values: out, locks: locks };
  }

  function forms(prefix) {
    return COMPONENTS[prefix].map(function (id) { return document.getElementById(id); }).filter(Boolean);
  }

  // The controls named `name` in the component's forms (hidden inputs are the page's own).
  function controls(prefix, name) {
    var found = [];
    forms(prefix).forEach(function (form) {
      Array.prototype.forEach.call(form.querySelectorAll("[name='" + name + "']"), function (el) {
        if (el.type !== "hidden" && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) found.push(el);
      });
    });
    return found;
  }

  function fill(prefix, name, value) {
    var els = controls(prefix, name);
    if (!els.length) return null;
    var first = els[0];
    if (first.type === "radio") {
      var hit = false;
      els.forEach(function (r) { r.checked = r.value === value; hit = hit || r.checked; });
      if (!hit) extra(first.form, name, value);
    } else if (first.type === "checkbox") {
      first.checked = /^(1|on|true|yes)$/i.test(value);
    } else if (first.tagName === "SELECT") {
      if (!Array.prototype.some.call(first.options, function (o) { return o.value === value; })) {
        var option = document.createElement("option");
        option.value = value;
        option.textContent = value;
        first.appendChild(option);
      }
      first.value = value;
    } else {
      if (first.type === "number" && value !== "" && isNaN(Number(value))) first.type = "text";
      first.value = value;
    }
    return first.form;
  }

  // A value no radio offers still reaches the server, which says what is wrong with it.
  function extra(form, name, value) {
    if (!form) return;
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    hidden.value = value;
    hidden.setAttribute("data-scenario-extra", "");
    form.appendChild(hidden);
  }

  function lock(prefix, locks) {
    var lang = document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en";
    Object.keys(locks).forEach(function (name) {
      controls(prefix, name).forEach(function (el) {
        if (el.disabled) return;
        el.disabled = true;
        el.setAttribute("data-locked", "");
        // A group of radios says it once, in its fieldset's legend.
        var group = el.type === "radio" && el.closest("fieldset");
        var holder = (group && group.querySelector("legend")) || el.closest("label") || el;
        if (!holder.querySelector || holder.querySelector(".scenario-lock")) return;
        var note = document.createElement("span");
        note.className = "scenario-lock meta";
        note.textContent = " (" + NOTE[lang] + ")";
        holder.appendChild(note);
      });
    });
  }

  function apply(state, refill) {
    Object.keys(COMPONENTS).forEach(function (prefix) {
      var values = state.values[prefix] || {};
      var touched = [];
      if (refill) {
        Object.keys(values).forEach(function (name) {
          var form = fill(prefix, name, values[name]);
          if (form && touched.indexOf(form) < 0) touched.push(form);
        });
      }
      lock(prefix, state.locks[prefix] || {});
      // A form that answers every change shows the scenario at once.
      touched.forEach(function (form) {
        if (LIVE[form.id]) form.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  }

  var state = settings();
  if (!Object.keys(state.values).length && !Object.keys(state.locks).length) return;

  document.addEventListener("DOMContentLoaded", function () { apply(state, true); });
  // A server may re-render a form with the values sent (and its messages): lock it again.
  document.addEventListener("htmx:afterSettle", function () { apply(state, false); });
  // Disabled controls are not sent with a form: send the locked values all the same, for the
  // form that asks and the forms it includes (hx-include).
  document.addEventListener("htmx:configRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (!elt || !elt.id) return;
    Object.keys(COMPONENTS).forEach(function (prefix) {
      if (COMPONENTS[prefix].indexOf(elt.id) < 0) return;
      var include = elt.getAttribute("hx-include");
      var included = include ? document.querySelector(include) : null;
      Object.keys(state.locks[prefix] || {}).forEach(function (name) {
        controls(prefix, name).forEach(function (el) {
          if (el.form !== elt && el.form !== included) return;
          if (el.type === "radio" || el.type === "checkbox") {
            if (el.checked) e.detail.parameters[name] = el.value;
          } else {
            e.detail.parameters[name] = el.value;
          }
        });
      });
    });
  });
})();
