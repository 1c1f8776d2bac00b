// Copy buttons (progressive enhancement): a button with data-copy="<element id>" copies that
// element's text to the clipboard. Without JavaScript the buttons stay hidden and the text is
// plain, selectable text; where the browser refuses the clipboard, the text is selected instead
// so that the person can copy it with the keyboard.
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function say(statusId, text) {
    var status = statusId && document.getElementById(statusId);
    if (status) {
      status.textContent = text;
    }
  }

  function enhance(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    var statusId = button.getAttribute("data-copy-status");
    var what = button.textContent.replace(/^Copy\s+/, "");
    button.hidden = false;
    button.addEventListener("click", function () {
      var selected = function () {
        selectText(target);
        say(statusId, "The " + what + " is selected: press Ctrl+C (or Command+C) to copy it.");
      };
      if (!navigator.clipboard || !window.isSecureContext) {
        selected();
        return;
      }
      navigator.clipboard.writeText(target.textContent).then(function () {
        say(statusId, "The " + what + " is on the clipboard.");
      }, selected);
    });
  }

  document.querySelectorAll("button[data-copy]").forEach(enhance);
})();
