/* SIGAP page furniture, on every page: the header's menu button, the bottom sheet of map
 * pages, and form error texts. No framework; loaded with `defer`. Hooks: docs/ui.md.
 *
 *   SIGAP.ui.sheet.expand() / collapse() / toggle() / isExpanded() / isOverlay()
 *   SIGAP.ui.sheet.peek(main, sub, kind)   kind: "answer" | "error" | undefined
 *   SIGAP.ui.fieldError(input, message) / SIGAP.ui.clearFieldError(input)
 *   events on document: "sigap:sheet" (detail.expanded), "sigap:menu" (detail.open)
 */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  var ui = SIGAP.ui = SIGAP.ui || {};
  /* The one width where the layout changes from phone/tablet to desktop (sigap.css). */
  var DESKTOP = window.matchMedia ? window.matchMedia("(min-width: 1024px)") : null;
  ui.isDesktop = function () { return Boolean(DESKTOP && DESKTOP.matches); };

  function emit(name, detail) {
    var ev;
    try { ev = new CustomEvent(name, { detail: detail }); }
    catch (e) { ev = document.createEvent("CustomEvent"); ev.initCustomEvent(name, false, false, detail); }
    document.dispatchEvent(ev);
  }

  /* --- the menu button: opens the navigation and the language switch below 1024 px --- */
  function initMenu() {
    var button = document.querySelector("[data-menu-button]");
    if (!button) { return; }
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    function set(open, focusButton) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("is-open", open);
      if (!open && focusButton) { button.focus(); }
      emit("sigap:menu", { open: open });
    }
    function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
    button.addEventListener("click", function () { set(!isOpen(), false); });
    document.addEventListener("keydown", function (e) {
      if ((e.key === "Escape" || e.key === "Esc") && isOpen()) { set(false, true); }
    });
    /* a tap or click anywhere else closes it, and does nothing more (no route on the map) */
    document.addEventListener("click", function (e) {
      if (isOpen() && !menu.contains(e.target) && !button.contains(e.target)) {
        e.stopPropagation();
        e.preventDefault();
        set(false, false);
      }
    }, true);
    /* focus leaving the menu (Tab past the last link) closes it */
    menu.addEventListener("focusout", function (e) {
      if (isOpen() && e.relatedTarget && !menu.contains(e.relatedTarget) && e.relatedTarget !== button) {
        set(false, false);
      }
    });
    ui.menu = { open: function () { set(true); }, close: function () { set(false); }, isOpen: isOpen };
  }

  /* --- the bottom sheet: collapsed it shows the peek; a tap, a swipe or its button opens it --- */
  var SWIPE_PX = 24;
  function initSheet() {
    var sheet = document.querySelector("[data-sheet]");
    if (!sheet) { return; }
    var bar = sheet.querySelector("[data-sheet-bar]");
    var toggle = sheet.querySelector("[data-sheet-toggle]");
    var peek = sheet.querySelector(".sheet-peek");
    function isExpanded() { return sheet.classList.contains("is-expanded"); }
    function set(expanded) {
      if (expanded === isExpanded()) { return; }
      sheet.classList.toggle("is-expanded", expanded);
      toggle.setAttribute("aria-expanded", expanded ? "true" : "false");
      var label = toggle.getAttribute(expanded ? "data-label-close" : "data-label-open");
      if (label) { toggle.setAttribute("aria-label", label); }
      emit("sigap:sheet", { expanded: expanded });
    }
    /* a tap on the bar (the peek or the button) toggles; a swipe is not followed by it */
    var start = null;
    var swipedAt = 0;
    bar.addEventListener("click", function (e) {
      /* the click a mouse sends after a drag (a key's click has detail 0) */
      if (e.detail > 0 && Date.now() - swipedAt < 500) { return; }
      set(!isExpanded());
    });
    bar.addEventListener("pointerdown", function (e) {
      start = { y: e.clientY, id: e.pointerId };
    });
    bar.addEventListener("pointerup", function (e) {
      if (!start || start.id !== e.pointerId) { return; }
      var dy = e.clientY - start.y;
      start = null;
      if (Math.abs(dy) < SWIPE_PX) { return; }
      swipedAt = Date.now();
      set(dy < 0);
    });
    bar.addEventListener("pointercancel", function () { start = null; });
    sheet.addEventListener("keydown", function (e) {
      if ((e.key === "Escape" || e.key === "Esc") && isExpanded() && !ui.isDesktop()) {
        set(false);
        toggle.focus();
      }
    });
    ui.sheet = {
      element: sheet,
      expand: function () { set(true); },
      collapse: function () { set(false); },
      toggle: function () { set(!isExpanded()); },
      isExpanded: isExpanded,
      /* true when the sheet lies over the map (below 1024 px), false as a side panel */
      isOverlay: function () { return !ui.isDesktop(); },
      /* the summary of the collapsed sheet: what is chosen, or the answer, or an error */
      peek: function (main, sub, kind) {
        if (!peek) { return; }
        peek.querySelector(".peek-main").textContent = main || "";
        peek.querySelector(".peek-sub").textContent = sub || "";
        peek.classList.toggle("has-sub", Boolean(sub));
        peek.classList.toggle("is-answer", kind === "answer");
        peek.classList.toggle("is-error", kind === "error");
      }
    };
  }

  /* --- form errors: the text in #<id>-error, which aria-describedby already names --- */
  function errorNode(input) {
    var id = input.id || input.name;
    return document.getElementById(id + "-error");
  }
  ui.fieldError = function (input, message) {
    var node = errorNode(input);
    if (node) { node.textContent = message; }
    input.setAttribute("aria-invalid", "true");
  };
  ui.clearFieldError = function (input) {
    var node = errorNode(input);
    if (node) { node.textContent = ""; }
    input.removeAttribute("aria-invalid");
  };
  function initForms() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  }

  function init() {
    initMenu();
    initSheet();
    initForms();
    document.documentElement.dataset.ui = "1";
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
