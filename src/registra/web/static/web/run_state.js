// An import run that waits for the worker (queued, or being applied): its page asks for the
// run's state every two seconds and reloads itself when the state changes, so the plan or the
// outcome appears without a click. Without JavaScript the page has a Refresh link.
(function () {
  "use strict";

  var box = document.getElementById("run-state");
  if (!box || !window.fetch) {
    return;
  }
  var state = box.getAttribute("data-state");
  var url = box.getAttribute("data-state-url");

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : { state: state };
      })
      .then(function (answer) {
        if (answer.state !== state) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      }, function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 2000);
})();
