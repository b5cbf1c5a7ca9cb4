// Suggests the page in the visitor's own language. The server never goes by the browser's language (a cache keeps
// each page by its URL alone: core/web/caching.py), so the page carries, hidden, a notice in each of its other
// languages, and this shows the one the browser prefers over the page's own (navigator.languages, in order).
// Closing it is remembered in this browser (localStorage, no cookie), and no notice shows again on this site.
(function () {
  "use strict";
  var CLOSED = "claimsite.language-notice.closed";

  function wasClosed() {
    try {
      return window.localStorage.getItem(CLOSED) === "1";
    } catch (e) {
      return false; // storage refused (private mode, settings): show it, and closing hides it for this page
    }
  }

  function rememberClosed() {
    try {
      window.localStorage.setItem(CLOSED, "1");
    } catch (e) {
      // nothing to remember it in: it shows again on the next page
    }
  }

  // The notice for the first language in the browser's list that this page is in or offers, or null.
  function preferredNotice(pageLanguage) {
    var wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (var i = 0; i < wanted.length; i++) {
      var code = String(wanted[i]).toLowerCase().split("-")[0];
      if (code === pageLanguage) return null;
      var notice = document.querySelector('.language-notice[data-language="' + code + '"]');
      if (notice) return notice;
    }
    return null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (wasClosed()) return;
    var notice = preferredNotice(document.documentElement.lang.toLowerCase());
    if (!notice) return;
    notice.hidden = false;
    notice.querySelector(".language-notice__close").addEventListener("click", function () {
      notice.hidden = true;
      rememberClosed();
      var main = document.getElementById("main");
      if (main) main.focus({ preventScroll: true }); // the button is gone: keep keyboard focus in the page
    });
  });
})();
