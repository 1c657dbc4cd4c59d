// Toasts for HTMX results: the server sends HX-Trigger {"toast": {"message": "...", "level": "info|error"}}.
document.addEventListener("toast", function (ev) {
  var d = ev.detail || {};
  var box = document.getElementById("toasts");
  if (!box || !d.message) return;
  var t = document.createElement("div");
  t.className = "toast" + (d.level === "error" ? " error" : "");
  t.setAttribute("data-testid", "toast");
  t.textContent = d.message;
  box.appendChild(t);
  setTimeout(function () { t.remove(); }, 6000);
});
// Typed confirmations: a form with data-confirm-name only submits when the typed text matches;
// data-confirm-field names an input whose current value must be typed again (e.g. a restore's target).
// Returns false (and shows why) when the form must not be sent.
function typedConfirmationOK(f) {
  if (!f || !f.getAttribute) return true;
  // data-confirm-text asks a plain yes/no question first (Cancel buttons).
  var ask = f.getAttribute("data-confirm-text");
  if (ask && !window.confirm(ask)) return false;
  var want = f.getAttribute("data-confirm-name");
  var field = f.getAttribute("data-confirm-field");
  if (field) {
    var src = f.querySelector("[name=" + field + "]");
    var dry = f.querySelector("[name=dry_run]");
    want = src && !(dry && dry.checked) ? src.value : "";
  }
  if (!want) return true;
  var typed = f.querySelector("[name=confirm]");
  if (typed && typed.value === want) return true;
  var msg = f.querySelector(".field-error");
  if (msg) msg.textContent = "Type " + want + " exactly to confirm.";
  return false;
}
// data-confirm asks before a form that cannot be undone is sent; with data-confirm-if="NAME" only when the
// checkbox NAME is ticked (e.g. "delete local files once verified").
function askedOK(f) {
  var ask = f && f.getAttribute && f.getAttribute("data-confirm");
  if (!ask) return true;
  var cond = f.getAttribute("data-confirm-if");
  if (cond) { var box = f.querySelector("[name=" + cond + "]"); if (!box || !box.checked) return true; }
  return window.confirm(ask);
}
// Plain form posts. A form with data-confirm asks first (inline onsubmit handlers are refused by the CSP).
document.addEventListener("submit", function (ev) {
  var viaHTMX = ev.target.hasAttribute && ev.target.hasAttribute("hx-post"); // asked in htmx:confirm below
  if (!viaHTMX && !askedOK(ev.target)) { ev.preventDefault(); return; }
  if (!typedConfirmationOK(ev.target)) ev.preventDefault();
}, true);
// HTMX posts: htmx sends on submit even when the event was cancelled, so cancel the request itself.
document.addEventListener("htmx:confirm", function (ev) {
  var elt = ev.detail && ev.detail.elt;
  if (elt && elt.tagName === "FORM" && (!askedOK(elt) || !typedConfirmationOK(elt))) ev.preventDefault();
});
// Confirmation dialogs: a button with data-open-dialog="ID" opens <dialog id=ID> modally; data-close-dialog
// closes it. Destructive forms live inside such dialogs, with their typed confirmation.
document.addEventListener("click", function (ev) {
  var open = ev.target.closest && ev.target.closest("[data-open-dialog]");
  if (open) {
    ev.preventDefault(); // openers are links to the server-rendered confirmation page, for browsers without JS
    var d = document.getElementById(open.getAttribute("data-open-dialog"));
    if (d && !d.open) d.showModal();
    var first = d && d.querySelector("input:not([type=hidden]):not([type=checkbox])");
    if (first) first.focus();
    return;
  }
  var close = ev.target.closest && ev.target.closest("[data-close-dialog]");
  if (close) {
    var c = document.getElementById(close.getAttribute("data-close-dialog"));
    if (c) c.close();
  }
});
// Live regions (data-live) refresh themselves with hx-trigger="every Ns". A refresh would wipe what someone is
// typing or choosing, or close their dialog: skip it while a dialog is open, a form control inside the region
// has focus, or a field differs from its default. The next tick tries again.
function regionBusy(region) {
  if (document.querySelector("dialog[open]")) return true;
  var a = document.activeElement;
  if (a && a !== document.body && region.contains(a) && a.closest("form")) return true;
  var fields = region.querySelectorAll("input, textarea, select");
  for (var i = 0; i < fields.length; i++) {
    var f = fields[i];
    if (f.type === "checkbox" || f.type === "radio") { if (f.checked !== f.defaultChecked) return true; }
    else if (f.tagName === "SELECT") { if (f.selectedIndex !== defaultIndex(f)) return true; }
    else if (f.type !== "hidden" && f.value !== f.defaultValue) return true;
  }
  return false;
}
// The option a single select shows before anyone touches it: the one marked selected, else the first.
function defaultIndex(sel) {
  for (var i = 0; i < sel.options.length; i++) if (sel.options[i].defaultSelected) return i;
  return sel.options.length ? 0 : -1;
}
document.addEventListener("htmx:beforeRequest", function (ev) {
  var elt = ev.detail && ev.detail.elt;
  if (elt && elt.hasAttribute && elt.hasAttribute("data-live") && regionBusy(elt)) ev.preventDefault();
});
// Schedule form: show only the fields the chosen cadence uses (elements with data-cadence="daily weekly …").
document.addEventListener("change", function (ev) {
  if (!ev.target.matches || !ev.target.matches("select[name=cadence]")) return;
  var form = ev.target.form;
  var fields = form ? form.querySelectorAll("[data-cadence]") : [];
  for (var i = 0; i < fields.length; i++) {
    fields[i].hidden = fields[i].getAttribute("data-cadence").split(" ").indexOf(ev.target.value) < 0;
  }
});
