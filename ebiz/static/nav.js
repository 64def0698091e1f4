// Site header: the narrow-screen menu button and the link groups of the main navigation.
// Loaded (not deferred) in <head> so <html class="js"> is set before the first paint.
// Without JavaScript nothing is hidden: every link is listed and usable.
(function () {
  "use strict";
  var root = document.documentElement;
  root.className += (root.className ? " " : "") + "js";

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
    var owner = button.closest(".nav-group");
    if (owner) { owner.classList.toggle("open", open); }
  }

  function init() {
    var header = document.querySelector(".site-header");
    markScrollingTables();
    if (!header) { return; }
    var toggle = header.querySelector(".nav-toggle");
    var groups = Array.prototype.slice.call(header.querySelectorAll(".nav-group-toggle"));

    function closeGroups(except) {
      groups.forEach(function (b) { if (b !== except) { setOpen(b, false); } });
    }
    function closeMenu() {
      if (toggle) {
        toggle.setAttribute("aria-expanded", "false");
        header.classList.remove("nav-open");
      }
    }

    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var open = toggle.getAttribute("aria-expanded") !== "true";
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        header.classList.toggle("nav-open", open);
      });
    }
    groups.forEach(function (b) {
      b.addEventListener("click", function () {
        var open = b.getAttribute("aria-expanded") !== "true";
        closeGroups(b);
        setOpen(b, open);
      });
    });
    // Escape closes an open group (focus back on its button) or the menu (focus back on the menu button).
    header.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") { return; }
      var openGroup = groups.filter(function (b) { return b.getAttribute("aria-expanded") === "true"; })[0];
      if (openGroup) { setOpen(openGroup, false); openGroup.focus(); return; }
      if (toggle && header.classList.contains("nav-open")) { closeMenu(); toggle.focus(); }
    });
    // A click or focus outside the header closes what is open.
    document.addEventListener("click", function (event) {
      if (!header.contains(event.target)) { closeGroups(null); }
    });
    header.addEventListener("focusout", function (event) {
      var next = event.relatedTarget;
      if (next && !header.contains(next)) { closeGroups(null); }
      else if (next) {
        groups.forEach(function (b) {
          var owner = b.closest(".nav-group");
          if (!owner.contains(next)) { setOpen(b, false); }
        });
      }
    });
  }

  // Wide tables scroll sideways on small screens (ebiz.css); a table that does is made
  // focusable so that keyboard users can scroll it too.
  function markScrollingTables() {
    Array.prototype.forEach.call(document.querySelectorAll("table.data"), function (t) {
      var scrolls = t.scrollWidth > t.clientWidth + 1;
      if (scrolls && !t.hasAttribute("tabindex")) {
        t.setAttribute("tabindex", "0");
        t.setAttribute("data-scroll-focus", "");
      } else if (!scrolls && t.hasAttribute("data-scroll-focus")) {
        t.removeAttribute("tabindex");
        t.removeAttribute("data-scroll-focus");
      }
    });
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markScrollingTables, 150);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());

// Forms with data-confirm="question" ask before they are sent (destructive staff actions).
document.addEventListener("submit", function (event) {
  "use strict";
  var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
