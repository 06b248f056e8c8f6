// Live updates for the Relay dashboard: the server re-renders each section and pushes it
// over Server-Sent Events; this swaps the HTML in. EventSource reconnects by itself.
// A form with data-confirm (clear a queue, restart the workers) asks before it posts.
(function () {
  "use strict";
  // Delegated, so forms in sections swapped in later ask too.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  if (!document.getElementById("live")) {
    return; // a detail page: nothing to keep live
  }
  var script = document.currentScript;
  var query = script.getAttribute("data-query") || "";
  var live = document.getElementById("live");
  var url = "/dashboard/stream" + (query ? "?q=" + encodeURIComponent(query) : "");
  var source = new EventSource(url);

  source.addEventListener("open", function () { live.className = "live on"; });
  source.addEventListener("error", function () { live.className = "live off"; });
  source.addEventListener("logout", function () {
    source.close();
    window.location = "/dashboard/login";
  });
  source.addEventListener("sections", function (event) {
    var sections = JSON.parse(event.data);
    Object.keys(sections).forEach(function (name) {
      var element = document.getElementById(name);
      // Don't swap a section under a pointer mid-click or a focused form field.
      if (element && !element.contains(document.activeElement)) {
        element.innerHTML = sections[name];
      }
    });
    live.className = "live on";
    document.body.setAttribute("data-updated", String(Date.now()));
  });
})();
