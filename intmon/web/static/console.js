// The browser's time zone, for the pages' times (intmon.web.i18n.zone_of): kept in a
// cookie the server reads on the next page. IANA names need no escaping in a cookie.
(function () {
  "use strict";
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\/-]+$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) {
    // No Intl: the pages stay in UTC, and say so.
  }
})();

// Auto-refresh without losing what is being typed: every few seconds fetch this
// page again (its data-refresh-url: after a refused form, the page the form was
// on) and swap in only its [data-refresh-region] sections (board, lists,
// a ticket's status and thread). Forms sit outside those regions and are never
// touched. Stops quietly when the session has ended (the fetch is redirected).
(function () {
  "use strict";
  var seconds = Number(document.body.getAttribute("data-refresh") || "0");
  if (!seconds || !window.fetch || !window.DOMParser) {
    return;
  }
  function schedule() {
    window.setTimeout(refresh, seconds * 1000);
  }
  function refresh() {
    var url = document.body.getAttribute("data-refresh-url") || window.location.href;
    window.fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected || !response.ok) {
          throw new Error("stale");
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var regions = document.querySelectorAll("[data-refresh-region]");
        Array.prototype.forEach.call(regions, function (region) {
          var next = fresh.getElementById(region.id);
          if (next) {
            region.replaceWith(document.importNode(next, true));
          }
        });
        document.body.setAttribute("data-refreshed", String(Date.now()));
        schedule();
      })
      .catch(function (error) {
        if (error && error.message !== "stale") {
          schedule();
        }
      });
  }
  schedule();
})();
