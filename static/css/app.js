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
// Typed confirmations: a form with data-confirm-name only submits when the typed text matches.
document.addEventListener("submit", function (ev) {
  var f = ev.target;
  var want = f.getAttribute && f.getAttribute("data-confirm-name");
  // data-confirm-field names an input whose current value must be typed again (e.g. a restore's target).
  var field = f.getAttribute && f.getAttribute("data-confirm-field");
  if (field) {
    var src = f.querySelector("[name=" + field + "]");
    var dry = f.querySelector("[name=dry_run]");
    want = src && !(dry && dry.checked) ? src.value : "";
  }
  if (!want) return;
  var typed = f.querySelector("[name=confirm]");
  if (!typed || typed.value !== want) {
    ev.preventDefault();
    var msg = f.querySelector(".field-error");
    if (msg) msg.textContent = "Type " + want + " exactly to confirm.";
  }
}, true);
// Confirmation dialogs: a button with data-open-dialog="ID" opens <dialog id=ID> modally; data-close-dialog
// closes it. Destructive forms live inside such dialogs, with their typed confirmation.
document.addEventListener("click", function (ev) {
  var open = ev.target.closest && ev.target.closest("[data-open-dialog]");
  if (open) {
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
