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
  // The list comes from GET /my/vault/files; a file's ciphertext from GET /my/vault/files/<id>, decrypted here with
  // the unlocked key (the server cannot). For now a file is opened into memory (a Blob) and saved through a download
  // link, up to data-max-open-bytes; streaming to disk comes later. A file that fails to open is dropped whole.

  function sizeText(bytes) {
    if (bytes < 1000) return bytes + " B";
    if (bytes < 1000 * 1000) return (bytes / 1000).toFixed(0) + " kB";
    if (bytes < 1000 * 1000 * 1000) return (bytes / 1000 / 1000).toFixed(1) + " MB";
    return (bytes / 1000 / 1000 / 1000).toFixed(2) + " GB";
  }

  function fileLine(file) {
    var date = new Date(file.deposited_on + "T00:00:00");
    var shown = isNaN(date) ? file.deposited_on : date.toLocaleDateString(document.documentElement.lang || undefined,
      { day: "numeric", month: "long", year: "numeric" }); // "3 December 2026": no day/month order to misread
    return text("fileLine").replace("{company}", file.company).replace("{date}", shown).replace("{size}", sizeText(file.size));
  }

  function save(blob, name) {
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

  async function openFile(file, key, status) {
    var maxBytes = parseInt(root.dataset.maxOpenBytes, 10) || 0;
    if (maxBytes && file.size > maxBytes) throw new Error(text("tooLarge"));
    status.textContent = text("opening");
    var response = await fetch(root.dataset.filesUrl + "/" + file.id, { credentials: "same-origin" });
    if (!response.ok || !response.body) {
      var answer = null;
      try { answer = await response.json(); } catch (e) { answer = null; }
      throw new Error((answer && answer.error) || text("failed"));
    }
    var blob;
    try {
      var plain = Vault.decryptStream(response.body, key, { publicRaw: Vault.base64urlDecode(root.dataset.public) });
      blob = await new Response(plain).blob();
    } catch (e) {
      blob = null; // what was opened before the failure is dropped with it
      throw new Error(text("refused"));
    }
    if (blob.size !== file.size) throw new Error(text("refused"));
    save(new Blob([blob], { type: file.media_type || "application/octet-stream" }), file.file_name);
    status.textContent = text("saved");
  }

  function fileItem(file, key) {
    var item = document.createElement("li");
    item.className = "vault-files__item";
    var name = document.createElement("strong");
    name.textContent = file.file_name;
    var line = document.createElement("span");
    line.textContent = fileLine(file);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button--secondary";
    button.textContent = text("open");
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
    item.append(name, document.createElement("br"), line, document.createElement("br"));
    if (file.kept_until_text) { // until when retention keeps it, said by the server in the page's language
      var kept = document.createElement("span");
      kept.setAttribute("data-kept-until", "");
      kept.textContent = file.kept_until_text;
      item.append(kept, document.createElement("br"));
    }
    item.append(button, status, problem);
    return item;
  }

  async function listFiles(unlocked, key) {
    var status = unlocked.querySelector("[data-files-status]"), list = unlocked.querySelector("[data-files]");
    var problem = unlocked.querySelector("[data-files-problem]");
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
