// The page of a link to the participant's copy of their mandate (signup/mandate.html, core.web.views.signup): the
// copy is a vault file (core/vault/FORMAT.md) encrypted to a key pair made for it alone, and the link carries the
// private key in its fragment, which the browser never sends anywhere. This script reads the key, takes it out of
// the address bar at once (history.replaceState: so it is neither left in the history nor shared by copying the
// address), fetches the ciphertext, decrypts it with js/vault_crypto.js and offers the PDF as a download.
//
// The key stays in this tab's sessionStorage (never a cookie: nothing here reaches the server), so that a reload or
// the other language's version of the page still opens the copy; closing the tab forgets it.
(function () {
  "use strict";

  var root = document.querySelector("[data-mandate-copy]");
  if (!root) return;
  var Vault = self.ClaimsiteVault;
  var status = root.querySelector("[data-status]");
  var problem = root.querySelector("[data-problem]");
  var saveLine = root.querySelector("[data-save-line]");
  var retryLine = root.querySelector("[data-retry-line]");
  var remembered = "claimsite-mandate-key:" + root.dataset.copyUrl;

  function text(name) {
    return root.dataset["text" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
  }

  function show(element, message) {
    element.textContent = message || "";
    element.hidden = !message;
  }

  function fail(name, canRetry) {
    show(status, "");
    show(problem, text(name));
    retryLine.hidden = !canRetry;
  }

  // The key from the fragment (then out of the address bar), or the one this tab kept for the same copy.
  function takeKey() {
    var fragment = window.location.hash.replace(/^#/, "");
    if (fragment) {
      history.replaceState(history.state, "", window.location.pathname + window.location.search);
      try { sessionStorage.setItem(remembered, fragment); } catch (e) { /* storage off: this load still works */ }
      return fragment;
    }
    try { return sessionStorage.getItem(remembered) || ""; } catch (e) { return ""; }
  }

  // The one-off private key (PKCS#8, base64url), imported so that its public point can be read from it (the
  // vault format binds the recipient's point into the file key); null when the text is no such key.
  async function importKey(keyText) {
    try {
      var pkcs8 = Vault.base64urlDecode(keyText);
      return await self.crypto.subtle.importKey(
        "pkcs8", pkcs8, { name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"]);
    } catch (e) {
      return null;
    }
  }

  async function open(keyText) {
    show(problem, "");
    retryLine.hidden = true;
    show(status, text("opening"));
    var key = await importKey(keyText);
    if (!key) return fail("wrongKey", false);
    var response;
    try {
      response = await fetch(root.dataset.copyUrl, { credentials: "same-origin", cache: "no-store" });
    } catch (e) {
      return fail("failed", true);
    }
    if (response.status === 404) return fail("gone", false);
    if (response.status === 429) return fail("busy", true);
    if (!response.ok || !response.body) return fail("failed", true);
    var pdf;
    try {
      pdf = await new Response(Vault.decryptStream(response.body, key)).blob();
    } catch (e) {
      pdf = null; // whatever was decrypted before the failure goes with it
      return fail(e instanceof Vault.FileRefused ? "wrongKey" : "failed", !(e instanceof Vault.FileRefused));
    }
    var link = saveLine.querySelector("[data-save]");
    link.href = URL.createObjectURL(new Blob([pdf], { type: "application/pdf" }));
    link.download = root.dataset.fileName;
    saveLine.hidden = false;
    show(status, text("opened"));
    link.focus();
  }

  var needsJs = root.querySelector("[data-needs-js]");
  if (!Vault || !self.crypto || !self.crypto.subtle) {
    needsJs.hidden = true;
    return fail("noCrypto", false);
  }
  needsJs.hidden = true;
  var keyText = takeKey();
  if (!keyText) return fail("noKey", false);
  root.querySelector("[data-retry]").addEventListener("click", function () { open(keyText); });
  open(keyText);
})();
