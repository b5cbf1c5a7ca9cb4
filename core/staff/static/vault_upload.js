// The console's upload into a participant's vault (staff/vault_upload.html, core.staff.vault_upload_views), over
// the participant pages' own js/vault_crypto.js (ClaimsiteVault).
//
// Why it works this way:
// - The server must never see a plaintext byte, so each file is read as a stream (file.stream()), encrypted as it
//   is read (ClaimsiteVault.encryptStream) to the public key the server's start answer names, and only the
//   ciphertext is sent. Memory holds about two pieces, whatever the file's size.
// - The ciphertext goes in pieces of the size the server names (8 MiB: each one request, and one S3 part), in
//   order, each a raw body (application/octet-stream, never a form: nothing for the server to parse or spool).
// - A piece whose request fails (the network, a server restarting, a 5xx) is sent again, a few times with a growing
//   pause: the server takes the same piece twice without storing it twice. A refusal (4xx) is not retried: the file
//   is aborted, what arrived is thrown away, and the page says why.
// - Files go one after the other; once the last one is in, one request asks for the participant's one arrival mail.
(function () {
  "use strict";

  var form = document.getElementById("vault-upload");
  if (!form) return;
  var list = document.getElementById("vault-upload-list");
  var problem = document.getElementById("vault-upload-error");
  var button = document.getElementById("vault-upload-button");
  var csrfToken = document.getElementById("vault-upload-csrf").value;
  var startUrl = form.dataset.startUrl;
  var signup = Number(form.dataset.signup);
  var maxBytes = Number(form.dataset.maxBytes);
  var RETRIES = 5;
  var MiB = 1048576;
  button.disabled = false; // disabled in the page: without this script nothing may be sent

  // A refusal of the server, with its message: not worth retrying.
  class Refused extends Error {
    constructor(message) {
      super(message);
      this.name = "Refused";
    }
  }

  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  async function post(url, body, type) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": type, "X-CSRFToken": csrfToken },
      body: body,
      credentials: "same-origin",
      cache: "no-store",
    });
  }

  async function messageOf(response) {
    try {
      var data = await response.json();
      if (data && data.error) return data.error;
    } catch (e) {
      // not JSON: a proxy's page, or the console's own error page
    }
    if (response.status === 401) return "Your console session ended: log in again, then upload the file again.";
    if (response.status === 403) return "Your account may not upload to vaults.";
    if (response.status === 413) return "The server refused a piece as too large.";
    if (response.status === 400) return "The server refused the request (the page may have expired): reload it.";
    return "The server answered " + response.status + ".";
  }

  // POST, sent again after a network failure or a 5xx (never after a refusal); the answer's JSON.
  async function postRetrying(url, body, type, onRetry) {
    var lastProblem = null;
    for (var attempt = 0; attempt <= RETRIES; attempt += 1) {
      if (attempt > 0) {
        onRetry(attempt, lastProblem);
        await sleep(Math.min(30000, 500 * Math.pow(2, attempt)));
      }
      var response;
      try {
        response = await post(url, body, type);
      } catch (e) {
        lastProblem = "the connection failed";
        continue;
      }
      if (response.status >= 500 || response.status === 429) {
        lastProblem = "the server answered " + response.status;
        continue;
      }
      if (!response.ok) throw new Refused(await messageOf(response));
      return response.json();
    }
    throw new Error("The upload stopped: " + lastProblem + " " + (RETRIES + 1) + " times in a row. Try again later.");
  }

  function json(value) {
    return JSON.stringify(value);
  }

  // The encrypted stream cut into pieces of exactly `size` bytes (the last may be shorter): each is handed to
  // `send` before the next is read, so only one piece (and what the stream gave beyond it) is held.
  async function sendInPieces(readable, size, send) {
    var reader = readable.getReader();
    var parts = [], held = 0, number = 0;
    function take(length) {
      var piece = new Uint8Array(length), at = 0;
      while (at < length) {
        var part = parts[0], need = length - at;
        if (part.length <= need) {
          piece.set(part, at);
          at += part.length;
          parts.shift();
        } else {
          piece.set(part.subarray(0, need), at);
          parts[0] = part.subarray(need);
          at += need;
        }
      }
      held -= length;
      return piece;
    }
    for (;;) {
      var step = await reader.read();
      if (!step.done) {
        parts.push(step.value);
        held += step.value.length;
      }
      while (held >= size && !(step.done && held === 0)) {
        await send(number, take(size));
        number += 1;
      }
      if (step.done) {
        if (held > 0) await send(number, take(held));
        return;
      }
    }
  }

  function sizeText(bytes) {
    if (bytes >= MiB) return (bytes / MiB).toFixed(1) + " MiB";
    return Math.max(1, Math.round(bytes / 1024)) + " KiB";
  }

  function row(file) {
    var item = document.createElement("li");
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name + " (" + sizeText(file.size) + ")";
    var bar = document.createElement("progress");
    bar.max = Math.max(1, file.size);
    bar.value = 0;
    var state = document.createElement("span");
    state.className = "state";
    state.textContent = "Waiting";
    item.append(name, bar, state);
    list.append(item);
    return {
      item: item,
      progress: function (fraction) { bar.value = fraction * bar.max; },
      say: function (text) { state.textContent = text; },
      fail: function (text) { item.classList.add("failed"); state.textContent = text; },
      done: function (text) { item.classList.add("done"); bar.value = bar.max; state.textContent = text; },
    };
  }

  async function upload(file, company, shown) {
    if (file.size > maxBytes) {
      throw new Refused(file.name + " is larger than the most one file may be: split it.");
    }
    shown.say("Starting");
    var started = await postRetrying(startUrl, json({
      signup: signup, company: company, name: file.name, size: file.size, type: file.type,
    }), "application/json", function () { shown.say("Starting (trying again)"); });
    if (started.done) {
      shown.done("Already in the vault (uploaded before): not stored twice.");
      return true;
    }
    var sent = 0;
    try {
      var publicRaw = ClaimsiteVault.base64urlDecode(started.public_key);
      var encrypted = ClaimsiteVault.encryptStream(file.stream(), publicRaw, { chunkSize: started.chunk_size });
      await sendInPieces(encrypted, started.piece_size, async function (number, piece) {
        await postRetrying(started.pieces_url + number, piece, "application/octet-stream", function (attempt, why) {
          shown.say("Encrypting and sending: piece " + (number + 1) + " of " + started.pieces + " failed ("
            + why + "), trying again (" + attempt + " of " + RETRIES + ")");
        });
        sent += piece.length;
        shown.progress(sent / started.size_cipher);
        shown.say("Encrypting and sending: " + Math.round(100 * sent / started.size_cipher) + "%");
      });
      shown.say("Checking");
      await postRetrying(started.finish_url, json({}), "application/json", function () {
        shown.say("Checking (trying again)");
      });
    } catch (e) {
      post(started.abort_url, json({}), "application/json").catch(function () {});
      throw e;
    }
    shown.done("In the vault.");
    return true;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    showProblem("");
    var choice = form.elements.company.value;
    var company = (choice || form.elements.company_other.value).trim();
    var files = Array.from(form.elements.files.files || []);
    if (!company) {
      showProblem("Choose the company, or type its name.");
      return;
    }
    if (!files.length) {
      showProblem("Choose the file or files to upload.");
      return;
    }
    if (!self.ClaimsiteVault || !self.ReadableStream || !(self.crypto && self.crypto.subtle)) {
      showProblem("This browser cannot encrypt files (it lacks Web Crypto or streams): use a current Firefox, "
        + "Chrome, Edge or Safari.");
      return;
    }
    button.disabled = true;
    var stored = 0, failed = 0;
    var rows = files.map(row);  // every file listed at once, each waiting for its turn
    for (var i = 0; i < files.length; i += 1) {
      var shown = rows[i];
      try {
        await upload(files[i], company, shown);
        stored += 1;
      } catch (e) {
        failed += 1;
        shown.fail("Not uploaded: " + e.message);
      }
    }
    if (stored) {
      try {
        await postRetrying(form.dataset.notifyUrl, json({ signup: signup }), "application/json", function () {});
      } catch (e) {
        showProblem("The files are in the vault, but the mail telling the participant was not queued: "
          + e.message);
      }
    }
    if (failed) {
      showProblem(failed + " of " + files.length + " file(s) were not uploaded: see why above, then choose them "
        + "again.");
    }
    form.elements.files.value = "";
    button.disabled = false;
  });
})();
