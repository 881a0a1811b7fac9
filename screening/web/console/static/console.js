// Review console: once the session has been idle past its limit, leave the page so that
// patient data does not stay on an unattended screen. The server refuses the stale
// session anyway; this only clears the screen.
(function () {
  "use strict";
  var body = document.body;
  var idle = Number(body.getAttribute("data-idle-seconds"));
  var target = body.getAttribute("data-signed-out-url");
  if (!idle || !target) {
    return;
  }
  window.setTimeout(function () {
    window.location.replace(target);
  }, (idle + 5) * 1000);
})();
