// The participant's vault page (participant/vault.html, core.web.views.vault), over js/vault_crypto.js. Without
// this file the page only says that a vault needs JavaScript: the keys are made and opened here, by design.
//
// What leaves the browser: the public key and the private key wrapped with the passphrase and with the recovery
// code (the JSON of core/vault/FORMAT.md), and nothing else: never the passphrase, the recovery code or the private
// key. The secret inputs have no name, so no form can send them either. A wrong passphrase or code fails here, in the
// browser, with nothing sent to the server.
(function () {
  "use strict";

  var root = document.querySelector("[data-vault-page]");
  if (!root) return;
  var Vault = self.ClaimsiteVault;
  var minLength = parseInt(root.dataset.minPassphrase, 10) || 12;

  function text(name) {
    return root.dataset["text" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
  }

  function show(element, message) {
    if (!element) return;
    element.textContent = message || "";
    element.hidden = !message;
  }

  // A hint only: the server never sees the passphrase, so the length rule is enforced here and nowhere else.
  function strengthOf(passphrase) {
    if (passphrase.length < minLength) return text("tooShort");
    var kinds = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter(function (re) { return re.test(passphrase); });
    return passphrase.length >= 20 || (passphrase.length >= 16 && kinds.length >= 3) ? text("strong") : text("fair");
  }

  function watchStrength(form) {
    var input = form.querySelector("[data-passphrase]"), hint = form.querySelector("[data-strength]");
    if (!input || !hint) return;
    input.addEventListener("input", function () { hint.textContent = input.value ? strengthOf(input.value) : ""; });
  }

  // The new passphrase typed twice, at least minLength long; a message when not.
  function newPassphraseProblem(form) {
    var first = form.querySelector("[data-passphrase]").value, again = form.querySelector("[data-passphrase-again]").value;
    if (first.length < minLength) return text("tooShort");
    if (first !== again) return text("mismatch");
    return null;
  }

  async function post(url, body) {
    var response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(body),
    });
    var answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (!response.ok || !answer || !answer.ok) throw new Error((answer && answer.error) || text("failed"));
  }

  // Runs ``work`` for a form's submit once at a time, showing "working" and any problem on the form itself.
  function handle(form, work) {
    var problem = form.querySelector("[data-problem]"), busy = form.querySelector("[data-busy]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (button.disabled) return;
      show(problem, "");
      button.disabled = true;
      busy.textContent = text("working");
      try {
        await work();
      } catch (e) {
        show(problem, e && e.message ? e.message : text("failed"));
      } finally {
        button.disabled = false;
        busy.textContent = "";
      }
    });
  }

  function friendly(error, wrongText) {
    if (error instanceof Vault.WrongSecret) return new Error(wrongText);
    return error;
  }

  function setUpForm(form) {
    var recovery = root.querySelector("[data-recovery]");
    watchStrength(form);
    form.hidden = false;
    handle(form, async function () {
      var problem = newPassphraseProblem(form);
      if (problem) throw new Error(problem);
      if (!form.querySelector("[data-understand]").checked) throw new Error(text("understand"));
      var passphrase = form.querySelector("[data-passphrase]").value;
      var pair = await Vault.generateKeyPair();
      var code = Vault.newRecoveryCode();
      var body = {
        public_raw: Vault.base64urlEncode(pair.publicRaw),
        wrapped_by_passphrase: await Vault.wrapPrivateKey(pair.privateKey, passphrase),
        wrapped_by_recovery: await Vault.wrapPrivateKey(pair.privateKey, { recoveryCode: code }),
      };
      await post(root.dataset.setupUrl, body);
      form.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      form.hidden = true;
      recovery.querySelector("[data-code]").textContent = code;
      recovery.hidden = false;
      recovery.querySelector("h2").scrollIntoView();
    });
    var written = recovery.querySelector("[data-written-down]"), goOn = recovery.querySelector("[data-go-on]");
    written.addEventListener("change", function () { goOn.disabled = !written.checked; });
    goOn.addEventListener("click", function () {
      recovery.querySelector("[data-code]").textContent = "";
      window.location.reload(); // the page now opens the vault that exists
    });
    recovery.querySelector("[data-copy]").addEventListener("click", function () {
      if (navigator.clipboard) navigator.clipboard.writeText(recovery.querySelector("[data-code]").textContent);
    });
    recovery.querySelector("[data-print]").addEventListener("click", function () { window.print(); });
  }

  // The unwrapped key must be the vault's own: its public point is the one the server keeps.
  async function checkOwn(privateKey) {
    var point = await Vault.publicRawOf(privateKey);
    if (point && Vault.base64urlEncode(point) !== root.dataset.public) throw new Error(text("failed"));
    return privateKey;
  }

  async function newPassphrase(form, privateKey) {
    var wrapped = await Vault.wrapPrivateKey(privateKey, form.querySelector("[data-passphrase]").value);
    await post(root.dataset.passphraseUrl, { wrapped_by_passphrase: wrapped });
    root.dataset.wrappedPassphrase = JSON.stringify(wrapped);
    form.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    form.querySelectorAll("[data-strength]").forEach(function (hint) { hint.textContent = ""; });
    form.closest("details").open = false;
    show(root.querySelector("[data-changed]"), text("changed"));
  }

  // -- the files, once unlocked -------------------------------------------------------------------------------------
  // The list comes from GET /my/vault/files, written by the server in the page's language; a file's ciphertext from
  // GET /my/vault/files/<id>, decrypted here with the unlocked key (the server cannot). The plaintext goes to disk
  // as it is decrypted, through the saving service worker (js/vault_save_worker.js) and the browser's own download
  // manager, so memory does not grow with the file. A browser without service workers (or one that hands the
  // download past its worker) opens the file in memory (a Blob) instead, up to data-max-open-bytes. A file that
  // fails midway is stopped: the download fails in the browser's list, and the page says why.

  var saveWorker = null; // a Promise of the active saving worker, or of null where this browser has none

  function activated(registration) {
    var worker = registration.installing || registration.waiting || registration.active;
    return new Promise(function (resolve) {
      if (!worker) return resolve(null);
      if (worker.state === "activated") return resolve(worker);
      worker.addEventListener("statechange", function () {
        if (worker.state === "activated") resolve(worker);
        else if (worker.state === "redundant") resolve(null);
      });
    });
  }

  function saveWorkerReady() {
    if (saveWorker) return saveWorker;
    var url = root.dataset.saveWorkerUrl;
    if (!url || !("serviceWorker" in navigator) || typeof ReadableStream === "undefined") {
      saveWorker = Promise.resolve(null);
    } else {
      var scope = new URL("./", new URL(url, location.href)).pathname;
      saveWorker = navigator.serviceWorker.register(url, { scope: scope, updateViaCache: "none" })
        .then(activated)
        .catch(function () { return null; }); // e.g. a private window that allows no service worker
    }
    return saveWorker;
  }

  // The worker never saw the save request (a browser that downloads past its worker): open in memory instead.
  class NotStarted extends Error {}

  function randomId() {
    return Array.from(self.crypto.getRandomValues(new Uint8Array(16)), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function hiddenFrame(src) {
    var frame = document.createElement("iframe");
    frame.hidden = true;
    frame.title = "download";
    frame.src = src;
    document.body.appendChild(frame);
    return frame;
  }

  // Streams `plain` (a decrypting stream) to disk through the saving worker; resolves once the last byte is handed
  // over, rejects (after making the download fail) when decrypting or the connection fails or the download is
  // cancelled. The key and the ciphertext stay here: the worker gets only plaintext chunks, for the download.
  function saveStreaming(worker, file, plain) {
    var id = randomId(), channel = new MessageChannel();
    var reader = null; // taken at the first pull: until then the stream stays free for the in-memory way
    var given = 0, frame = null, ended = false;
    return new Promise(function (resolve, reject) {
      var notStarted = setTimeout(function () {
        worker.postMessage({ type: "abort", id: id });
        finish(new NotStarted());
      }, 15000);
      function finish(error) {
        if (ended) return;
        ended = true;
        clearTimeout(notStarted);
        channel.port1.close();
        if (frame) setTimeout(function () { frame.remove(); }, 60000); // removing it at once may cancel the download
        if (error) reject(error);
        else resolve();
      }
      async function giveNext() {
        try {
          reader = reader || plain.getReader();
          var result = await reader.read();
          if (result.done) {
            if (given !== file.size) throw new Vault.FileRefused("it is not as long as the list says");
            worker.postMessage({ type: "end", id: id });
            return finish(null);
          }
          var chunk = result.value;
          given += chunk.length;
          var buffer = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
            ? chunk.buffer : chunk.slice().buffer;
          worker.postMessage({ type: "chunk", id: id, chunk: buffer }, [buffer]);
        } catch (e) {
          worker.postMessage({ type: "abort", id: id });
          if (reader) reader.cancel(e).catch(function () {});
          finish(e);
        }
      }
      channel.port1.onmessage = function (event) {
        var type = event.data && event.data.type;
        if (ended) return;
        if (type === "ready") frame = hiddenFrame(new URL("./" + id, new URL(root.dataset.saveWorkerUrl, location.href)));
        else if (type === "started") clearTimeout(notStarted);
        else if (type === "pull") giveNext();
        else if (type === "cancelled") {
          (reader || plain).cancel().catch(function () {});
          finish(new Error(text("cancelled")));
        }
      };
      worker.postMessage({ type: "save", id: id, name: file.file_name, size: file.size,
        mediaType: file.media_type || "application/octet-stream" }, [channel.port2]);
    });
  }

  function saveBlob(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  // What was opened before a failure is dropped with the Blob: nothing is saved.
  async function saveInMemory(file, plain) {
    var blob = await new Response(plain).blob();
    if (blob.size !== file.size) throw new Vault.FileRefused("it is not as long as the list says");
    saveBlob(new Blob([blob], { type: file.media_type || "application/octet-stream" }), file.file_name);
  }

  function tooLargeForMemory(file) {
    var maxBytes = parseInt(root.dataset.maxOpenBytes, 10) || 0;
    return maxBytes && file.size > maxBytes;
  }

  // The ciphertext as a stream of ranged requests of RANGE_BYTES each, asked for only as the decryptor pulls: no
  // request lasts long (a server worker is never held for a whole large file, and no proxy or worker timeout cuts a
  // slow download), and a dropped connection costs one range, asked for again (RETRIES times, waiting a little
  // longer each time). Every range must come from the same stored file (If-Range with the first answer's ETag): a
  // file replaced meanwhile fails the download instead of mixing two files.
  var RANGE_BYTES = 8 * 1024 * 1024;
  var RETRIES = 3;

  async function problemOf(response) {
    var answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    return new Error((answer && answer.error) || text("failed"));
  }

  async function ciphertextOf(file) {
    var url = root.dataset.filesUrl + "/" + file.id;
    var etag = null;
    var size = null;

    async function range(start) {
      for (var attempt = 0; ; attempt++) {
        try {
          var headers = { Range: "bytes=" + start + "-" + (start + RANGE_BYTES - 1) };
          if (etag) headers["If-Range"] = etag;
          var response = await fetch(url, { credentials: "same-origin", headers: headers, cache: "no-store" });
          if (response.status !== 206) {
            if (!response.ok) throw await problemOf(response);
            throw new Error(text("failed")); // a whole file where a range was asked: it changed meanwhile
          }
          var found = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("Content-Range") || "");
          if (!found || Number(found[1]) !== start || (etag && response.headers.get("ETag") !== etag)) {
            throw new Error(text("failed"));
          }
          var bytes = new Uint8Array(await response.arrayBuffer());
          if (bytes.length !== Number(found[2]) - start + 1) throw new TypeError("cut short");
          etag = etag || response.headers.get("ETag");
          size = Number(found[3]);
          return bytes;
        } catch (e) {
          if (!(e instanceof TypeError) || attempt >= RETRIES) throw e; // only a lost connection is tried again
          await new Promise(function (resolve) { setTimeout(resolve, 1000 * (attempt + 1)); });
        }
      }
    }

    var first = await range(0);
    var offset = 0;
    return new ReadableStream({
      pull: async function (controller) {
        var bytes = offset === 0 ? first : await range(offset);
        first = null;
        offset += bytes.length;
        controller.enqueue(bytes);
        if (offset >= size) controller.close();
      },
    });
  }

  // What the page says when saving failed: a damaged file, a lost connection, or its own words.
  function failure(error, streaming) {
    if (error instanceof Vault.FileRefused) return text(streaming ? "refusedStopped" : "refused");
    if (error instanceof TypeError) return text(streaming ? "lostStopped" : "lost"); // fetch's network error
    return error && error.message ? error.message : text("failed");
  }

  async function openFile(file, key, status) {
    var worker = await saveWorkerReady();
    if (!worker && tooLargeForMemory(file)) throw new Error(text("tooLarge"));
    status.textContent = text("opening");
    var body;
    try {
      body = await ciphertextOf(file); // its first range: nothing is saved before it came whole
    } catch (e) {
      throw new Error(failure(e, false));
    }
    var plain = Vault.decryptStream(body, key, { publicRaw: Vault.base64urlDecode(root.dataset.public) });
    var streaming = Boolean(worker);
    try {
      if (worker) {
        try {
          await saveStreaming(worker, file, plain);
        } catch (e) {
          if (!(e instanceof NotStarted)) throw e;
          streaming = false;
          if (tooLargeForMemory(file)) {
            plain.cancel().catch(function () {});
            throw new Error(text("tooLarge"));
          }
          await saveInMemory(file, plain);
        }
      } else {
        await saveInMemory(file, plain);
      }
    } catch (e) {
      throw new Error(failure(e, streaming));
    }
    status.textContent = text(streaming ? "savedStreaming" : "saved");
  }

  // One fact of a file: "From" TikTok, "Received" 3 December 2026 (the server wrote the values).
  function fact(list, label, value) {
    if (!value) return;
    var row = document.createElement("div"), term = document.createElement("dt"), detail = document.createElement("dd");
    term.textContent = text(label);
    detail.textContent = value;
    row.append(term, detail);
    list.append(row);
  }

  function fileItem(file, key) {
    var item = document.createElement("li");
    item.className = "vault-files__item";
    var name = document.createElement("p");
    name.className = "vault-files__name";
    name.textContent = file.file_name;
    var facts = document.createElement("dl");
    facts.className = "vault-files__facts";
    fact(facts, "from", file.company);
    fact(facts, "campaign", file.campaign);
    fact(facts, "received", file.received);
    fact(facts, "size", file.size_text);
    fact(facts, "type", file.kind);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--secondary";
    button.textContent = text("open");
    button.setAttribute("aria-label", text("open") + ": " + file.file_name);
    var status = document.createElement("p");
    status.className = "field__help";
    status.setAttribute("role", "status");
    var problem = document.createElement("p");
    problem.className = "field__error";
    problem.setAttribute("role", "alert");
    problem.hidden = true;
    button.addEventListener("click", async function () {
      if (button.disabled) return;
      button.disabled = true;
      show(problem, "");
      try {
        await openFile(file, key, status);
      } catch (e) {
        status.textContent = "";
        show(problem, e && e.message ? e.message : text("failed"));
      } finally {
        button.disabled = false;
      }
    });
    item.append(name, facts);
    if (file.kept_until_text) { // until when retention keeps it, said by the server in the page's language
      var kept = document.createElement("p");
      kept.className = "vault-files__kept";
      kept.setAttribute("data-kept-until", "");
      kept.textContent = file.kept_until_text;
      item.append(kept);
    }
    item.append(button, status, problem);
    return item;
  }

  async function listFiles(unlocked, key) {
    var status = unlocked.querySelector("[data-files-status]"), list = unlocked.querySelector("[data-files]");
    var problem = unlocked.querySelector("[data-files-problem]"), help = unlocked.querySelector("[data-save-help]");
    saveWorkerReady().then(function (worker) { help.textContent = text(worker ? "helpStreaming" : "helpMemory"); });
    try {
      var response = await fetch(root.dataset.filesUrl, { credentials: "same-origin" });
      var answer = await response.json();
      if (!response.ok) throw new Error(answer && answer.error);
      list.replaceChildren.apply(list, answer.files.map(function (file) { return fileItem(file, key); }));
      list.hidden = !answer.files.length;
      status.textContent = answer.files.length ? "" : text("noFiles");
      status.hidden = !!answer.files.length;
    } catch (e) {
      status.hidden = true;
      show(problem, e && e.message ? e.message : text("filesFailed"));
    }
  }

  function lockedForms(locked) {
    var unlocked = root.querySelector("[data-unlocked]");
    locked.hidden = false;
    handle(locked.querySelector("[data-unlock]"), async function () {
      var input = locked.querySelector("[data-unlock] [data-secret]");
      if (!input.value) throw new Error(text("wrongPassphrase"));
      var key;
      try {
        key = await Vault.unwrapPrivateKey(root.dataset.wrappedPassphrase, input.value);
      } catch (e) {
        throw friendly(e, text("wrongPassphrase"));
      }
      await checkOwn(key);
      input.value = "";
      locked.hidden = true;
      unlocked.hidden = false;
      show(unlocked.querySelector("[data-unlocked-message]"), text("unlocked"));
      listFiles(unlocked, key);
    });
    var recover = locked.querySelector("[data-recover]");
    watchStrength(recover);
    handle(recover, async function () {
      var problem = newPassphraseProblem(recover);
      if (problem) throw new Error(problem);
      var key;
      try {
        key = await Vault.unwrapPrivateKey(
          root.dataset.wrappedRecovery, { recoveryCode: recover.querySelector("[data-secret]").value.trim() },
          { extractable: true });
      } catch (e) {
        throw friendly(e, text("wrongCode"));
      }
      await newPassphrase(recover, await checkOwn(key));
    });
    var change = locked.querySelector("[data-change]");
    watchStrength(change);
    handle(change, async function () {
      var problem = newPassphraseProblem(change);
      if (problem) throw new Error(problem);
      var key;
      try {
        key = await Vault.unwrapPrivateKey(
          root.dataset.wrappedPassphrase, change.querySelector("[data-secret]").value || " ", { extractable: true });
      } catch (e) {
        throw friendly(e, text("wrongPassphrase"));
      }
      await newPassphrase(change, await checkOwn(key));
    });
  }

  var needsJs = root.querySelector("[data-needs-js]");
  if (!Vault || !self.crypto || !self.crypto.subtle) {
    show(needsJs, text("noCrypto"));
    return;
  }
  needsJs.hidden = true;
  var setup = root.querySelector("[data-setup]"), locked = root.querySelector("[data-locked]");
  if (setup) setUpForm(setup);
  if (locked) lockedForms(locked);
})();
