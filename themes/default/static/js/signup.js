// Sign-up flow enhancements. Everything works without this file: the server enforces the resend wait, and a
// typed name is accepted as a signature.
(function () {
  "use strict";

  // The resend countdown: counts down the seconds the server said, then enables the button.
  function countdown() {
    var wait = document.querySelector("[data-countdown]");
    var button = document.querySelector("[data-resend]");
    if (!wait || !button) return;
    var seconds = parseInt(wait.getAttribute("data-countdown"), 10) || 0;
    var shown = wait.querySelector(".resend__seconds");
    function tick() {
      if (seconds <= 0) { wait.hidden = true; button.disabled = false; return; }
      wait.hidden = false; button.disabled = true;
      if (shown) shown.textContent = String(seconds);
      seconds -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  // The signature pad: draw with touch, pen or mouse; the drawing goes into a hidden field as a PNG.
  function signaturePad() {
    var pad = document.querySelector("[data-signature-pad]");
    if (!pad) return;
    var canvas = pad.querySelector("canvas");
    var field = pad.querySelector("input[name=signature_png]");
    var context = canvas.getContext("2d");
    if (!context) return;
    pad.hidden = false;
    context.lineWidth = 3; context.lineCap = "round"; context.lineJoin = "round"; context.strokeStyle = "#111";
    var drawing = false, drawn = false;
    if (field.value) {  // a drawing sent back after an error on the page: show it again
      var kept = new Image();
      kept.onload = function () { context.drawImage(kept, 0, 0, canvas.width, canvas.height); drawn = true; };
      kept.src = field.value;
    }
    function point(event) {
      var box = canvas.getBoundingClientRect();
      return { x: (event.clientX - box.left) * canvas.width / box.width,
               y: (event.clientY - box.top) * canvas.height / box.height };
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true; canvas.setPointerCapture(event.pointerId);
      var p = point(event); context.beginPath(); context.moveTo(p.x, p.y);
      context.lineTo(p.x + 0.1, p.y + 0.1); context.stroke();
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) return;
      var p = point(event); context.lineTo(p.x, p.y); context.stroke(); drawn = true;
      event.preventDefault();
    });
    function stop() {
      if (!drawing) return;
      drawing = false;
      if (drawn) field.value = canvas.toDataURL("image/png");
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    pad.querySelector("[data-clear]").addEventListener("click", function () {
      context.clearRect(0, 0, canvas.width, canvas.height); field.value = ""; drawn = false;
    });
  }

  // The child's fields only matter when joining for a child.
  function childFields() {
    var box = document.querySelector(".child-fields");
    var radios = document.querySelectorAll("input[name=for_whom]");
    if (!box || !radios.length) return;
    function update() {
      var child = document.querySelector("input[name=for_whom]:checked");
      box.hidden = !(child && child.value === "child");
    }
    Array.prototype.forEach.call(radios, function (r) { r.addEventListener("change", update); });
    update();
  }

  // A data request's companies: a company's details are asked only while it is ticked; "all of them" ticks each.
  // Without this script every company's fields show, and the server asks only those of the companies ticked.
  function companyChoice() {
    var companies = document.querySelectorAll("[data-company]");
    if (!companies.length) return;
    var all = document.querySelector("[data-all-companies]");
    function update() {
      Array.prototype.forEach.call(companies, function (company) {
        var box = company.querySelector("[data-company-box]");
        var details = company.querySelector("[data-company-details]");
        if (all && all.checked) box.checked = true;
        if (details) details.hidden = !box.checked;
      });
    }
    Array.prototype.forEach.call(companies, function (company) {
      company.querySelector("[data-company-box]").addEventListener("change", function (event) {
        if (all && !event.target.checked) all.checked = false;
        update();
      });
    });
    if (all) all.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    countdown(); signaturePad(); childFields(); companyChoice();
  });
})();
