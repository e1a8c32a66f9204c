// Auto-refresh without losing what is being typed: every few seconds fetch this
// page again (its data-refresh-url: after a refused form, the page the form was
// on) and swap in only its [data-refresh-region] sections (board, lists,
// a ticket's status and thread). Forms sit outside those regions and are never
// touched. Stops quietly when the session has ended (the fetch is redirected).
//
// Times are shown in the viewer's zone: the server reads it from the intmon_tz
// cookie written here from the browser's own zone (intmon/web/zones.py). When
// the cookie is new or the zone has changed, the regions are read again at once.
//
// A file input is shown in the page's words (_macros.html file_picker): our button
// opens the browser's input, kept in the form but hidden, and the chosen files'
// names replace "No file chosen".
//
// A field the browser refuses before sending (required, an e-mail address) is
// refused in the page's words (the body's data-invalid-* attributes), not in the
// browser's language; typing again clears it. The server checks every field too.
(function () {
  "use strict";
  var zoneChanged = rememberZone();
  Array.prototype.forEach.call(document.querySelectorAll("[data-file-picker]"), filePicker);
  document.addEventListener("invalid", sayWhyInvalid, true);
  document.addEventListener("input", clearInvalid, true);
  document.addEventListener("change", clearInvalid, true);
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
  if (zoneChanged) {
    refresh();
  } else {
    schedule();
  }

  function filePicker(picker) {
    var input = picker.querySelector("input[type=file]");
    var ours = picker.querySelector(".file-picker-ours");
    var chosen = picker.querySelector(".file-chosen");
    if (!input || !ours || !chosen) {
      return;
    }
    input.tabIndex = -1; // our button takes the focus instead
    picker.classList.add("enhanced");
    ours.hidden = false;
    picker.querySelector(".file-choose").addEventListener("click", function () {
      input.click();
    });
    input.addEventListener("change", function () {
      var names = Array.prototype.map.call(input.files || [], function (file) {
        return file.name;
      });
      chosen.textContent = names.length ? names.join(", ") : chosen.getAttribute("data-none");
    });
  }

  function sayWhyInvalid(event) {
    var field = event.target;
    if (!field || !field.validity || !field.setCustomValidity) {
      return;
    }
    var said = document.body;
    var kind = "other";
    if (field.validity.customError) {
      return; // already ours
    } else if (field.validity.valueMissing) {
      kind = "missing";
    } else if (field.validity.typeMismatch && field.type === "email") {
      kind = "email";
    }
    var words = said.getAttribute("data-invalid-" + kind);
    if (words) {
      field.setCustomValidity(words);
    }
  }

  function clearInvalid(event) {
    var field = event.target;
    if (field && field.setCustomValidity) {
      field.setCustomValidity("");
    }
  }

  function rememberZone() {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return false;
    }
    if (!/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
      return false;
    }
    var kept = document.cookie.split("; ").filter(function (pair) {
      return pair.indexOf("intmon_tz=") === 0;
    })[0];
    if (kept === "intmon_tz=" + zone) {
      return false;
    }
    document.cookie = "intmon_tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
      (window.location.protocol === "https:" ? "; Secure" : "");
    return true;
  }
})();
