// Scenarios by link: a component's settings in the page's query pre-fill its form, and
// lock=<prefix>.<field>,… disables the named controls. The chapter page is the same for everyone
// (rendered once, cached), so this happens here, in the learner's browser.
//   sim.<field>  ->  the CheckpointSimulator's form field #cs-<field> (radio name="crash")
//                ->  <field> in POST /api/checkpoint-simulator/runs
// A locked control is disabled, so its value is added to the form's request here; a value the
// form cannot hold (a word in a number field, an unknown option) goes to the server as it is,
// and the form shows the server's own message in the page's language after Start.
(function () {
  "use strict";
  var COMPONENTS = { sim: { form: "cs-form", id: "cs-" } };
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
      if (dot > 0 && COMPONENTS[item.slice(0, dot)]) {
        var prefix = item.slice(0, dot);
        (locks[prefix] = locks[prefix] || {})[item.slice(dot + 1)] = true;
      }
    });
    return { values: out, locks: locks };
  }

  function controls(form, spec, name) {
    var radios = form.querySelectorAll("input[type='radio'][name='" + name + "']");
    if (radios.length) return Array.prototype.slice.call(radios);
    var el = document.getElementById(spec.id + name);
    return el && form.contains(el) ? [el] : [];
  }

  function fill(form, spec, name, value) {
    var els = controls(form, spec, name);
    if (!els.length) return;
    var first = els[0];
    if (first.type === "radio") {
      var hit = false;
      els.forEach(function (r) { r.checked = r.value === value; hit = hit || r.checked; });
      if (!hit) extra(form, name, value);
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
  }

  // A value no radio offers still reaches the server, which says what is wrong with it.
  function extra(form, name, value) {
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = name;
    hidden.value = value;
    hidden.setAttribute("data-scenario-extra", "");
    form.appendChild(hidden);
  }

  function lock(form, spec, locks) {
    var lang = document.documentElement.lang.indexOf("zh") === 0 ? "zh" : "en";
    Object.keys(locks).forEach(function (name) {
      controls(form, spec, name).forEach(function (el) {
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
      var spec = COMPONENTS[prefix];
      var form = document.getElementById(spec.form);
      if (!form) return;
      var values = state.values[prefix] || {};
      if (refill) Object.keys(values).forEach(function (name) { fill(form, spec, name, values[name]); });
      lock(form, spec, state.locks[prefix] || {});
    });
  }

  var state = settings();
  if (!Object.keys(state.values).length && !Object.keys(state.locks).length) return;

  document.addEventListener("DOMContentLoaded", function () { apply(state, true); });
  // The server re-renders the form with the values sent (and its messages): lock it again.
  document.addEventListener("htmx:afterSettle", function () { apply(state, false); });
  // Disabled controls are not sent with a form: send the locked values all the same.
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail && e.detail.elt;
    Object.keys(COMPONENTS).forEach(function (prefix) {
      var spec = COMPONENTS[prefix];
      if (!form || form.id !== spec.form) return;
      Object.keys(state.locks[prefix] || {}).forEach(function (name) {
        controls(form, spec, name).forEach(function (el) {
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
