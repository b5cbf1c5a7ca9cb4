// The ID blackout canvas (identity/_blackout.html). Everything works without this file: the visitor then chooses
// an image they blacked out themselves, and the server checks and cleans whatever arrives.
//
// The chosen image is decoded upright by its EXIF orientation (createImageBitmap, imageOrientation "from-image"),
// as the server turns it, so what the visitor sees is what is sent. The boxes they drag are kept in the image's own
// pixels, never the screen's; the screen canvas is only a view, redrawn at its size. When the form is sent, the
// image is drawn once more at full resolution (at most data-max-side pixels on the long side, the server's limit)
// with the boxes on it, and that file takes the place of the chosen one in the file input (DataTransfer), JPEG or
// PNG as the chosen file was by its first bytes.
(function () {
  "use strict";

  var MIN_BOX = 4; // screen pixels: a tap or a slip of the finger draws no box
  var JPEG_QUALITY = 0.92; // the server encodes it again (at 88): this only keeps that step from losing more

  function supported() {
    if (!window.createImageBitmap || !window.DataTransfer || !window.File) return false;
    var canvas = document.createElement("canvas");
    if (!canvas.getContext || !canvas.getContext("2d") || !canvas.toBlob) return false;
    try { return typeof new window.DataTransfer().items.add === "function"; } catch (e) { return false; }
  }

  function sniffPng(file) {
    // The file's first bytes decide, as on the server: never its name or the type the browser guessed.
    return file.slice(0, 8).arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer), png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
      return png.every(function (b, i) { return bytes[i] === b; });
    });
  }

  function setUp(root) {
    var input = root.querySelector("input[type=file]");
    var form = input && input.form;
    var editor = root.querySelector("[data-editor]");
    var canvas = root.querySelector("[data-canvas]");
    var undo = root.querySelector("[data-undo]");
    var reset = root.querySelector("[data-reset]");
    var status = root.querySelector("[data-status]");
    var problem = root.querySelector("[data-problem]");
    if (!form || !editor || !canvas) return;
    var maxSide = parseInt(root.getAttribute("data-max-side"), 10) || 3000;
    var context = canvas.getContext("2d");
    var image = null; // {bitmap, png}: the chosen file, decoded upright
    var boxes = []; // [x, y, width, height] in the image's pixels
    var dragging = null; // {pointerId, from: [x, y], to: [x, y]} in the image's pixels
    var sending = false, passOn = false, loads = 0;

    root.classList.add("blackout--enhanced");

    function text(name) { return root.getAttribute("data-text-" + name) || ""; }

    function showProblem(message) {
      problem.textContent = message;
      problem.hidden = !message;
    }

    function update() {
      undo.disabled = reset.disabled = boxes.length === 0;
      status.textContent = boxes.length ? text("count").replace("{count}", String(boxes.length)) : text("none");
    }

    // The screen canvas: as wide as its column, no taller than most of the window, sharp on dense screens.
    function layout() {
      if (!image) return;
      var bitmap = image.bitmap;
      var width = Math.max(1, editor.clientWidth);
      var height = Math.min(width * bitmap.height / bitmap.width, window.innerHeight * 0.75);
      width = height * bitmap.width / bitmap.height;
      // Only the drawing buffer is sized here; the stylesheet shows it at most as wide as the column and 75% of
      // the window high, in its own proportions (no inline styles under the site's Content Security Policy).
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.max(1, Math.round(width * ratio));
      canvas.height = Math.max(1, Math.round(height * ratio));
      draw();
    }

    function draw() {
      if (!image) return;
      var scale = canvas.width / image.bitmap.width;
      context.drawImage(image.bitmap, 0, 0, canvas.width, canvas.height);
      context.fillStyle = "#000";
      boxes.forEach(function (box) { context.fillRect(box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale); });
      var current = dragging && boxOf(dragging);
      if (current) {
        context.fillRect(current[0] * scale, current[1] * scale, current[2] * scale, current[3] * scale);
        context.strokeStyle = "#ffd23f";
        context.lineWidth = Math.max(2, 2 * (window.devicePixelRatio || 1));
        context.strokeRect(current[0] * scale, current[1] * scale, current[2] * scale, current[3] * scale);
      }
    }

    var drawQueued = false;
    function drawSoon() {
      if (drawQueued) return;
      drawQueued = true;
      window.requestAnimationFrame(function () { drawQueued = false; draw(); });
    }

    // Where a pointer is, in the image's pixels (clamped to the image); the canvas's border is not the image.
    function imagePoint(event) {
      var rect = canvas.getBoundingClientRect();
      var x = (event.clientX - rect.left - canvas.clientLeft) / canvas.clientWidth * image.bitmap.width;
      var y = (event.clientY - rect.top - canvas.clientTop) / canvas.clientHeight * image.bitmap.height;
      return [Math.min(Math.max(x, 0), image.bitmap.width), Math.min(Math.max(y, 0), image.bitmap.height)];
    }

    function boxOf(drag) {
      var x = Math.min(drag.from[0], drag.to[0]), y = Math.min(drag.from[1], drag.to[1]);
      return [x, y, Math.abs(drag.to[0] - drag.from[0]), Math.abs(drag.to[1] - drag.from[1])];
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (!image || dragging || (event.pointerType === "mouse" && event.button !== 0)) return;
      var at = imagePoint(event);
      dragging = { pointerId: event.pointerId, from: at, to: at };
      canvas.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!dragging || event.pointerId !== dragging.pointerId) return;
      dragging.to = imagePoint(event);
      drawSoon();
      event.preventDefault();
    });
    function finish(event, keep) {
      if (!dragging || event.pointerId !== dragging.pointerId) return;
      dragging.to = imagePoint(event);
      var box = boxOf(dragging);
      var onScreen = canvas.clientWidth / image.bitmap.width;
      dragging = null;
      if (keep && box[2] * onScreen >= MIN_BOX && box[3] * onScreen >= MIN_BOX) boxes.push(box);
      draw();
      update();
    }
    canvas.addEventListener("pointerup", function (event) { finish(event, true); });
    canvas.addEventListener("pointercancel", function (event) { finish(event, false); });

    undo.addEventListener("click", function () { boxes.pop(); draw(); update(); });
    reset.addEventListener("click", function () { boxes = []; draw(); update(); });

    function forget() {
      if (image) image.bitmap.close();
      image = null;
      boxes = [];
      editor.hidden = true;
    }

    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var load = ++loads; // a later choice wins over a slower earlier one
      forget();
      showProblem("");
      if (!file) return;
      Promise.all([createImageBitmap(file, { imageOrientation: "from-image" }), sniffPng(file)]).then(
        function (found) {
          if (load !== loads) { found[0].close(); return; }
          image = { bitmap: found[0], png: found[1] };
          editor.hidden = false;
          layout();
          update();
        },
        function () {
          // Not an image this browser can show (a PDF, a HEIC photo...): the file goes as it is, and the
          // server says what is wrong with it.
          if (load === loads) showProblem(text("unreadable"));
        }
      );
    });

    var resized = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resized);
      resized = window.setTimeout(layout, 100);
    });

    // The image with its boxes at full resolution (at most maxSide on the long side), as a file.
    function blackedOut() {
      var bitmap = image.bitmap;
      var scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
      var full = document.createElement("canvas");
      full.width = Math.max(1, Math.round(bitmap.width * scale));
      full.height = Math.max(1, Math.round(bitmap.height * scale));
      var ctx = full.getContext("2d");
      var type = image.png ? "image/png" : "image/jpeg";
      if (!image.png) { ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, full.width, full.height); } // JPEG has no alpha
      ctx.drawImage(bitmap, 0, 0, full.width, full.height);
      ctx.fillStyle = "#000";
      boxes.forEach(function (box) {
        // Outward to whole pixels: a box never leaves a half-covered edge of what it hides.
        var x = Math.floor(box[0] * scale), y = Math.floor(box[1] * scale);
        ctx.fillRect(x, y, Math.ceil((box[0] + box[2]) * scale) - x, Math.ceil((box[1] + box[3]) * scale) - y);
      });
      return new Promise(function (resolve, reject) {
        full.toBlob(function (blob) {
          full.width = full.height = 0; // let a phone have its memory back at once
          if (!blob) { reject(new Error("toBlob gave nothing")); return; }
          // A fixed name: the chosen file's name may hold the visitor's own name.
          resolve(new File([blob], image.png ? "id-document.png" : "id-document.jpg", { type: type }));
        }, type, JPEG_QUALITY);
      });
    }

    form.addEventListener("submit", function (event) {
      if (passOn || !image) return; // the blacked-out file is in place (or there is no image to black out)
      event.preventDefault();
      if (sending) return;
      sending = true;
      var submitter = event.submitter || null;
      status.textContent = text("preparing");
      blackedOut().then(
        function (file) {
          var transfer = new DataTransfer();
          transfer.items.add(file);
          input.files = transfer.files;
          sending = false;
          passOn = true;
          try {
            if (form.requestSubmit) form.requestSubmit(submitter); else form.submit();
          } finally {
            passOn = false;
          }
        },
        function () {
          sending = false;
          update();
          showProblem(text("failed"));
        }
      );
    });

    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!supported()) return;
    Array.prototype.forEach.call(document.querySelectorAll("[data-id-blackout]"), setUp);
  });
})();
