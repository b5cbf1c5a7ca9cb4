// The vault's saving service worker (core.web.views.vault.save_worker, registered by js/vault_page.js): it turns the
// plaintext the page decrypts into a download, so the browser's own download manager writes it to disk as it
// arrives and a 2 GB file never sits whole in memory. Its scope is the vault page's save/ folder and nothing else.
//
// How: the page posts {type: "save", id, name, size, mediaType} with a MessagePort, then opens save/<id> in a hidden
// frame. This worker answers that request with a stream whose every pull asks the page (over the port) for the next
// decrypted chunk, and the page posts it back ({type: "chunk"}), then {type: "end"} or, when anything went wrong,
// {type: "abort"}: the stream then errors, so the browser marks the download failed instead of keeping a partial
// file that looks complete. A pull at a time keeps one chunk in flight: the page decrypts only as fast as the disk
// writes. The page's messages come to this worker's own message event (not the port), since each such event keeps
// a worker alive; a port's messages do not, and a long download must not lose its worker halfway.
//
// It never sees a key (the page decrypts), sends nothing anywhere, caches nothing and answers no other request.
"use strict";

var saves = new Map(); // id -> {port, name, size, mediaType, controller, pulled}

self.addEventListener("install", function () {
  self.skipWaiting(); // a new version takes over at once: it holds nothing that an old one needs
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type === "save" && event.ports[0]) {
    saves.set(message.id, {
      port: event.ports[0], name: String(message.name), size: Number(message.size),
      mediaType: String(message.mediaType || "application/octet-stream"), controller: null, pulled: null,
    });
    event.ports[0].postMessage({ type: "ready" });
    return;
  }
  var save = saves.get(message.id);
  if (!save) return;
  if (message.type === "abort") {
    saves.delete(message.id);
    if (save.controller) save.controller.error(new Error("the page could not decrypt this file"));
    settle(save);
    return;
  }
  if (!save.controller) return;
  if (message.type === "chunk") {
    save.controller.enqueue(new Uint8Array(message.chunk));
    settle(save);
  } else if (message.type === "end") {
    saves.delete(message.id);
    save.controller.close();
    settle(save);
  }
});

function settle(save) {
  if (save.pulled) {
    var resolve = save.pulled;
    save.pulled = null;
    resolve();
  }
}

// RFC 6266: a plain ASCII name for old browsers, the real one (UTF-8, percent-encoded) for every current one.
function disposition(name) {
  var ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encodeURIComponent(name)
    .replace(/['()*]/g, function (c) { return "%" + c.charCodeAt(0).toString(16).toUpperCase(); });
}

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  var id = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
  var save = saves.get(id);
  if (!save || save.controller) return; // not ours (or already answered): the network answers it
  save.port.postMessage({ type: "started" });
  var body = new ReadableStream({
    start: function (controller) {
      save.controller = controller;
    },
    pull: function () {
      return new Promise(function (resolve) {
        save.pulled = resolve;
        save.port.postMessage({ type: "pull" });
      });
    },
    cancel: function () {
      // The person cancelled the download, or the browser dropped it: the page stops decrypting.
      saves.delete(id);
      save.port.postMessage({ type: "cancelled" });
      settle(save);
    },
  }, { highWaterMark: 1 });
  event.respondWith(new Response(body, {
    headers: {
      "Content-Type": save.mediaType,
      "Content-Disposition": disposition(save.name),
      "Content-Length": String(save.size),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
    },
  }));
});
