// Confirm the signup for a real browser: submit the confirm page's one form once the page
// is visible. A GET of the confirm link changes nothing (mail scanners fetch every link);
// this saves a person the click. Without scripts the form's button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-auto-submit]");
  if (!form) {
    return;
  }
  var submitted = false;
  function submitWhenVisible() {
    // A prerendered or background page is not a person looking at it.
    if (submitted || document.visibilityState !== "visible") {
      return;
    }
    submitted = true;
    var busy = document.getElementById("confirm-busy");
    if (busy) {
      busy.hidden = false;
    }
    form.submit();
  }
  document.addEventListener("visibilitychange", submitWhenVisible);
  submitWhenVisible();
})();
