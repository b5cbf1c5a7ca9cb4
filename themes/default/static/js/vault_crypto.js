// The participant's vault in the browser (issue 21): the vault file format, version 1, and the participant's key,
// with Web Crypto alone. The format is a contract shared with the Python side: core/vault/FORMAT.md says it, and
// every rule below follows it (a change there is a change here). Nothing here touches the page: the pages that
// set up, unlock and fill a vault load this file (a classic script: the CSP allows only the site's own files, and a
// classic script needs no module loading) and call the one global it defines, ClaimsiteVault. It uses `self`, not
// `window`, so a service worker (a streamed download) can load it too, with importScripts.
//
// Why it is built this way:
// - A vault file is for one recipient: an ephemeral ECDH P-256 key agreement with the recipient's public key, HKDF
//   over the shared secret, and AES-256-GCM over fixed-size chunks. Each chunk's nonce carries its index and a
//   final-chunk flag, and every chunk authenticates the whole header, so a chunk cannot be dropped, moved, cut off
//   or added, and a header cannot be swapped, without a chunk failing to decrypt.
// - Files go through as streams, one chunk at a time (pulled only when the reader wants more), so a 2 GB answer
//   never sits whole in memory: the staff console's upload encrypts as it reads, the participant's download decrypts
//   as it writes. A decrypting stream has already handed over earlier chunks when it finds a damaged one: its error
//   (FileRefused, with discard = true) tells the caller to throw away everything it got.
// - The private key leaves the browser only wrapped: AES-GCM under a key from PBKDF2-SHA256 over the passphrase or
//   the recovery code, the iterations recorded beside it (Web Crypto has no Argon2; 600,000 is OWASP's figure for
//   PBKDF2-SHA256). A secret that does not open the record is WrongSecret; a record that is not a wrapped key at
//   all is a VaultError, so a page can tell "try again" from "this vault's record is broken".
// - The key derivation binds both public keys (HKDF info), so decrypting needs the recipient's own public point.
//   A key made by generateKeyPair or unwrapPrivateKey remembers it; for any other key, pass it as publicRaw.
(function () {
  "use strict";

  var MAGIC = bytesOf("CLVAULT1");
  var HEADER_LENGTH = 100;
  var TAG_LENGTH = 16;
  var POINT_LENGTH = 65; // an uncompressed P-256 point: 0x04 || X || Y
  var SALT_LENGTH = 16;
  var NONCE_PREFIX_LENGTH = 7;
  var DEFAULT_CHUNK_SIZE = 1048576;
  var MAX_CHUNK_SIZE = 16 * 1048576;
  var MAX_CHUNKS = 4294967295; // 2^32 - 1: a chunk's index is a u32 in its nonce
  var HKDF_INFO = bytesOf("claimsite vault v1");
  var WRAP_AAD = bytesOf("claimsite vault key v1");
  var WRAP_KDF = "PBKDF2-SHA256";
  var DEFAULT_ITERATIONS = 600000;
  var WRAP_FIELDS = ["v", "kdf", "iterations", "salt", "iv", "wrapped"];
  var CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // base32 without I, L, O and U: nothing to misread
  var RECOVERY_BYTES = 20; // 160 bits: 32 characters, 8 groups of 4
  var ECDH = { name: "ECDH", namedCurve: "P-256" };

  var subtle = self.crypto && self.crypto.subtle;
  // The public point of each private key this file made or unwrapped (a non-extractable key cannot tell it).
  var publicPoints = new WeakMap();

  // ---- errors -------------------------------------------------------------------------------------------------

  // Every error this file raises on purpose; programming mistakes (a wrong argument) are TypeError or RangeError.
  class VaultError extends Error {
    constructor(message) {
      super(message);
      this.name = "VaultError";
    }
  }

  // The passphrase or recovery code does not open this wrapped key (or the record was changed: GCM cannot tell
  // the two apart, and neither can the person, who should try again or use their recovery code).
  class WrongSecret extends VaultError {
    constructor(message) {
      super(message || "This passphrase or recovery code does not open the vault key: check it and try again, "
        + "or use the recovery code instead of the passphrase.");
      this.name = "WrongSecret";
    }
  }

  // A vault file that is damaged, cut short, lengthened, reordered, not a vault file or not for this key. Whatever
  // the stream already gave must be thrown away (discard is always true, for a caller that only checks a flag).
  class FileRefused extends VaultError {
    constructor(reason) {
      super("This vault file cannot be opened: " + reason + ". Discard everything already read from it "
        + "(a partly written download included); ask for the file again.");
      this.name = "FileRefused";
      this.reason = reason;
      this.discard = true;
    }
  }

  // ---- bytes ---------------------------------------------------------------------------------------------------

  function bytesOf(text) {
    return new TextEncoder().encode(text);
  }

  function concat(parts) {
    var length = parts.reduce(function (sum, part) { return sum + part.length; }, 0);
    var out = new Uint8Array(length), at = 0;
    parts.forEach(function (part) { out.set(part, at); at += part.length; });
    return out;
  }

  function u32(value) {
    var out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value, false);
    return out;
  }

  function asBytes(value, what) {
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError(what + " must be bytes (a Uint8Array), not " + Object.prototype.toString.call(value));
  }

  function option(options, name, fallback) {
    return options && options[name] !== undefined ? options[name] : fallback;
  }

  function randomBytes(length) {
    return self.crypto.getRandomValues(new Uint8Array(length));
  }

  // base64url without padding, as public keys and wrapped keys travel in JSON and HTML.
  function base64urlEncode(bytes) {
    bytes = asBytes(bytes, "base64urlEncode's argument");
    var binary = "";
    for (var at = 0; at < bytes.length; at += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(at, at + 0x8000));
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function base64urlDecode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new VaultError("Not base64url without padding: " + JSON.stringify(String(text).slice(0, 40)));
    }
    var binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  // Byte-wise FIFO over a stream's pieces: takes exactly n bytes without copying the rest again and again.
  class ByteQueue {
    constructor() {
      this.parts = [];
      this.length = 0;
    }
    push(part) {
      if (part.length) {
        this.parts.push(part);
        this.length += part.length;
      }
    }
    take(n) {
      var out = new Uint8Array(n), at = 0;
      while (at < n) {
        var part = this.parts[0], used = Math.min(part.length, n - at);
        out.set(part.subarray(0, used), at);
        at += used;
        if (used === part.length) this.parts.shift();
        else this.parts[0] = part.subarray(used);
      }
      this.length -= n;
      return out;
    }
  }

  // Reads from a ReadableStream into a ByteQueue until it holds at least n bytes or the stream ended.
  async function fill(reader, queue, n, what) {
    while (queue.length < n) {
      var result = await reader.read();
      if (result.done) return false;
      queue.push(asBytes(result.value, what));
    }
    return true;
  }

  // ---- keys ----------------------------------------------------------------------------------------------------

  function requireWebCrypto() {
    if (!subtle) {
      throw new VaultError("This browser has no Web Crypto here (it needs a secure page: https or localhost).");
    }
  }

  function checkPoint(raw, what) {
    raw = asBytes(raw, what);
    if (raw.length !== POINT_LENGTH || raw[0] !== 4) {
      throw new TypeError(what + " must be an uncompressed P-256 point: 65 bytes starting with 0x04, not "
        + raw.length + " bytes");
    }
    return raw;
  }

  function pointOfJwk(jwk) {
    return concat([new Uint8Array([4]), base64urlDecode(jwk.x), base64urlDecode(jwk.y)]);
  }

  // A recipient's key pair: the private key is extractable, so that it can be wrapped; publicRaw is what the server
  // keeps (base64url) and what files are encrypted to.
  async function generateKeyPair() {
    requireWebCrypto();
    var pair = await subtle.generateKey(ECDH, true, ["deriveBits"]);
    var publicRaw = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
    publicPoints.set(pair.privateKey, publicRaw);
    return { privateKey: pair.privateKey, publicRaw: publicRaw };
  }

  // The public point (65 bytes) of a private key: remembered for keys made or unwrapped here, read from the key
  // itself when it is extractable; null when neither (then the caller must know it).
  async function publicRawOf(privateKey) {
    if (publicPoints.has(privateKey)) return publicPoints.get(privateKey).slice();
    if (!privateKey.extractable) return null;
    var point = pointOfJwk(await subtle.exportKey("jwk", privateKey));
    publicPoints.set(privateKey, point);
    return point.slice();
  }

  // ---- the recovery code and the wrapped private key -------------------------------------------------------------

  // 20 random bytes as 8 groups of 4 Crockford base32 characters, e.g. "7K2M-Q0XA-...".
  function newRecoveryCode() {
    var bytes = randomBytes(RECOVERY_BYTES), bits = 0, value = 0, text = "";
    for (var i = 0; i < bytes.length; i++) {
      value = (value << 8) | bytes[i];
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        text += CROCKFORD[(value >> bits) & 31];
      }
      value &= (1 << bits) - 1;
    }
    return text.match(/.{4}/g).join("-");
  }

  // A recovery code as people type it, made the code it was: spaces, dashes (none, extra, or a phone's long
  // dash) and lower case do not matter, and the letters Crockford's alphabet leaves out because they look like its
  // digits count as those digits (O as 0, I and L as 1). A valid code never changes: it has none of them.
  function recoveryCodeText(typed) {
    return typed.normalize("NFKC").toUpperCase().replace(/[\s\-\u2010-\u2015\u2212]+/g, "")
      .replace(/O/g, "0").replace(/[IL]/g, "1");
  }

  // The PBKDF2 password of a secret: a passphrase (a string, or {passphrase}) NFC-normalised, so the same words
  // typed on another keyboard give the same bytes; a recovery code ({recoveryCode}) as recoveryCodeText makes it,
  // and refused unless it then has a recovery code's 32 characters.
  function passwordOf(secret) {
    if (typeof secret === "string") secret = { passphrase: secret };
    if (secret && typeof secret.passphrase === "string") {
      if (!secret.passphrase) throw new TypeError("The passphrase is empty.");
      return bytesOf(secret.passphrase.normalize("NFC"));
    }
    if (secret && typeof secret.recoveryCode === "string") {
      var code = recoveryCodeText(secret.recoveryCode);
      if (!new RegExp("^[" + CROCKFORD + "]{32}$").test(code)) {
        throw new WrongSecret("This is not a recovery code: it has 32 letters and digits in groups of 4 "
          + "(such as 7K2M-Q0XA-...). Check it against the one you kept and try again.");
      }
      return bytesOf(code);
    }
    throw new TypeError("The secret must be a passphrase (a string, or {passphrase: ...}) or {recoveryCode: ...}.");
  }

  function checkIterations(iterations) {
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > 4294967295) {
      throw new RangeError("iterations must be a whole number from 1 to 2^32 - 1, not " + iterations);
    }
    return iterations;
  }

  async function wrappingKey(secret, salt, iterations, usage) {
    var password = await subtle.importKey("raw", passwordOf(secret), "PBKDF2", false, ["deriveKey"]);
    return subtle.deriveKey(
      { name: "PBKDF2", hash: "SHA-256", salt: salt, iterations: iterations },
      password, { name: "AES-GCM", length: 256 }, false, [usage]);
  }

  // The private key wrapped with a passphrase or a recovery code: the JSON object the server stores,
  // {v, kdf, iterations, salt, iv, wrapped}. The key must be extractable (generateKeyPair's is; unwrap with
  // {extractable: true} to wrap it again, when the passphrase changes).
  async function wrapPrivateKey(privateKey, secret, options) {
    requireWebCrypto();
    var iterations = checkIterations(option(options, "iterations", DEFAULT_ITERATIONS));
    if (!privateKey || privateKey.type !== "private" || !privateKey.extractable) {
      throw new TypeError("wrapPrivateKey needs an extractable private key (unwrap it with {extractable: true}).");
    }
    var salt = randomBytes(SALT_LENGTH), iv = randomBytes(12);
    var key = await wrappingKey(secret, salt, iterations, "encrypt");
    var pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", privateKey));
    var wrapped = await subtle.encrypt({ name: "AES-GCM", iv: iv, additionalData: WRAP_AAD }, key, pkcs8);
    pkcs8.fill(0);
    return {
      v: 1, kdf: WRAP_KDF, iterations: iterations, salt: base64urlEncode(salt), iv: base64urlEncode(iv),
      wrapped: base64urlEncode(new Uint8Array(wrapped)),
    };
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new VaultError("Not a wrapped vault key (version 1): not JSON (" + e.message + ").");
    }
  }

  function readWrapped(record) {
    var problem = function (what) { return new VaultError("Not a wrapped vault key (version 1): " + what + "."); };
    if (!record || typeof record !== "object" || Array.isArray(record)) throw problem("not a JSON object");
    Object.keys(record).forEach(function (name) {
      if (WRAP_FIELDS.indexOf(name) < 0) throw problem("unknown field " + JSON.stringify(name));
    });
    if (record.v !== 1) throw problem("version " + JSON.stringify(record.v) + ", this page reads version 1");
    if (record.kdf !== WRAP_KDF) throw problem("key derivation " + JSON.stringify(record.kdf));
    if (!Number.isInteger(record.iterations) || record.iterations < 1 || record.iterations > 4294967295) {
      throw problem("iterations " + JSON.stringify(record.iterations));
    }
    var salt = base64urlDecode(record.salt), iv = base64urlDecode(record.iv), wrapped = base64urlDecode(record.wrapped);
    if (salt.length !== SALT_LENGTH) throw problem("a salt of " + salt.length + " bytes, not 16");
    if (iv.length !== 12) throw problem("an iv of " + iv.length + " bytes, not 12");
    if (wrapped.length <= TAG_LENGTH) throw problem("a wrapped key of only " + wrapped.length + " bytes");
    return { iterations: record.iterations, salt: salt, iv: iv, wrapped: wrapped };
  }

  // The private key of a wrapped record (the JSON object, or its text), opened with the passphrase or recovery
  // code. Non-extractable unless {extractable: true} (needed only to wrap it again). Throws WrongSecret when the
  // secret does not open it, VaultError when the record is not a wrapped key at all.
  async function unwrapPrivateKey(record, secret, options) {
    requireWebCrypto();
    var parsed = readWrapped(typeof record === "string" ? parseJson(record) : record);
    var key = await wrappingKey(secret, parsed.salt, parsed.iterations, "decrypt");
    var pkcs8;
    try {
      pkcs8 = new Uint8Array(await subtle.decrypt(
        { name: "AES-GCM", iv: parsed.iv, additionalData: WRAP_AAD }, key, parsed.wrapped));
    } catch (e) {
      throw new WrongSecret();
    }
    // Imported once to read its public point (JWK), then as the caller wants it: the pkcs8 may leave the point out.
    var jwk;
    try {
      jwk = await subtle.exportKey("jwk", await subtle.importKey("pkcs8", pkcs8, ECDH, true, ["deriveBits"]));
    } catch (e) {
      throw new VaultError("The wrapped key opened, but it is not a P-256 private key: the vault key record is "
        + "broken; set up the vault again.");
    } finally {
      pkcs8.fill(0);
    }
    var extractable = Boolean(options && options.extractable);
    var privateKey = await subtle.importKey("jwk", jwk, ECDH, extractable, ["deriveBits"]);
    publicPoints.set(privateKey, pointOfJwk(jwk));
    return privateKey;
  }

  // ---- the file format ------------------------------------------------------------------------------------------

  function checkChunkSize(chunkSize) {
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError("chunkSize must be a whole number of bytes from 1 to 16 MiB, not " + chunkSize);
    }
    return chunkSize;
  }

  // The AES-256-GCM key of one file: HKDF-SHA256 over the ECDH secret, bound to both public points.
  async function fileKey(privateKey, publicKey, ephemeralRaw, recipientRaw, salt, usage) {
    var shared = await subtle.deriveBits({ name: "ECDH", public: publicKey }, privateKey, 256);
    var ikm = await subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    return subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: salt, info: concat([HKDF_INFO, ephemeralRaw, recipientRaw]) },
      ikm, { name: "AES-GCM", length: 256 }, false, [usage]);
  }

  // nonce_prefix (7) || u32 index (4) || flag (1): 0x01 on the final chunk.
  function chunkIv(noncePrefix, index, final) {
    return concat([noncePrefix, u32(index), new Uint8Array([final ? 1 : 0])]);
  }

  // A ReadableStream of the vault file of `readable`'s bytes, for the recipient whose public point is
  // `recipientPublicRaw` (65 bytes): the 100-byte header, then each chunk of chunkSize plaintext bytes (1 MiB by
  // default) as its ciphertext and tag. It reads one chunk (and a byte) ahead of what it gives: the last chunk is
  // flagged only once nothing follows it.
  function encryptStream(readable, recipientPublicRaw, options) {
    requireWebCrypto();
    var chunkSize = checkChunkSize(option(options, "chunkSize", DEFAULT_CHUNK_SIZE));
    var recipientRaw = checkPoint(recipientPublicRaw, "recipientPublicRaw").slice();
    var reader = readable.getReader();
    var queue = new ByteQueue();
    var state = null; // {key, header, noncePrefix}, once the header is made
    var index = 0;

    async function start() {
      var recipient;
      try {
        recipient = await subtle.importKey("raw", recipientRaw, ECDH, false, []);
      } catch (e) {
        throw new TypeError("recipientPublicRaw is not a point on P-256: check the recipient's public key.");
      }
      var ephemeral = await subtle.generateKey(ECDH, false, ["deriveBits"]);
      var ephemeralRaw = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
      var salt = randomBytes(SALT_LENGTH), noncePrefix = randomBytes(NONCE_PREFIX_LENGTH);
      var header = concat([MAGIC, u32(chunkSize), ephemeralRaw, salt, noncePrefix]);
      var key = await fileKey(ephemeral.privateKey, recipient, ephemeralRaw, recipientRaw, salt, "encrypt");
      state = { key: key, header: header, noncePrefix: noncePrefix };
    }

    return new ReadableStream({
      async pull(controller) {
        try {
          if (state === null) {
            await start();
            controller.enqueue(state.header.slice());
            return;
          }
          var more = await fill(reader, queue, chunkSize + 1, "The stream to encrypt");
          if (index >= MAX_CHUNKS) {
            throw new RangeError("A vault file holds at most 2^32 - 1 chunks: use a larger chunkSize.");
          }
          var plaintext = queue.take(Math.min(chunkSize, queue.length));
          var sealed = await subtle.encrypt(
            { name: "AES-GCM", iv: chunkIv(state.noncePrefix, index, !more), additionalData: state.header },
            state.key, plaintext);
          index += 1;
          controller.enqueue(new Uint8Array(sealed));
          if (!more) controller.close();
        } catch (e) {
          reader.cancel(e).catch(function () {});
          throw e;
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  // A ReadableStream of the plaintext of the vault file `readable`, opened with the recipient's private key
  // (options.publicRaw: the recipient's public point, needed only for a key that was neither made nor unwrapped
  // here and is not extractable). It gives each chunk once it is authenticated; on any damage (a changed byte, a
  // chunk dropped, moved or added, the file cut short or lengthened, another recipient's file) it errors with
  // FileRefused, and what it gave before must be discarded.
  function decryptStream(readable, privateKey, options) {
    requireWebCrypto();
    var given = options && options.publicRaw;
    var reader = readable.getReader();
    var queue = new ByteQueue();
    var state = null; // {key, header, noncePrefix, chunkSize}, once the header is read
    var index = 0;

    async function readHeader() {
      var recipientRaw = given ? checkPoint(given, "options.publicRaw") : await publicRawOf(privateKey);
      if (!recipientRaw) {
        throw new TypeError("decryptStream needs the recipient's public point for this key: pass {publicRaw}.");
      }
      if (!(await fill(reader, queue, HEADER_LENGTH, "The vault file"))) {
        throw new FileRefused("it is shorter than a vault file's header");
      }
      var header = queue.take(HEADER_LENGTH);
      if (MAGIC.some(function (b, i) { return header[i] !== b; })) {
        throw new FileRefused("it is not a vault file of version 1 (its first bytes are not CLVAULT1)");
      }
      var chunkSize = new DataView(header.buffer).getUint32(8, false);
      if (chunkSize < 1 || chunkSize > MAX_CHUNK_SIZE) {
        throw new FileRefused("its header gives a chunk size of " + chunkSize + " bytes, beyond 1 byte to 16 MiB");
      }
      var ephemeralRaw = header.slice(12, 77), salt = header.slice(77, 93), noncePrefix = header.slice(93, 100);
      var ephemeral;
      try {
        ephemeral = await subtle.importKey("raw", ephemeralRaw, ECDH, false, []);
      } catch (e) {
        throw new FileRefused("its header's key is not a P-256 point");
      }
      var key = await fileKey(privateKey, ephemeral, ephemeralRaw, recipientRaw, salt, "decrypt");
      state = { key: key, header: header, noncePrefix: noncePrefix, chunkSize: chunkSize };
    }

    async function open(sealed, final) {
      var iv = chunkIv(state.noncePrefix, index, final);
      return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: iv, additionalData: state.header },
        state.key, sealed));
    }

    // The reason a chunk did not open, for the error: told apart only to help whoever looks at a refused file.
    async function whyNot(sealed, final) {
      if (!final) {
        try {
          await open(sealed, true);
          return "more data follows its last chunk (chunk " + index + ")";
        } catch (e) { /* not a final chunk either */ }
      } else if (sealed.length === state.chunkSize + TAG_LENGTH) {
        try {
          await open(sealed, false);
          return "it ends after chunk " + index + " without its last chunk";
        } catch (e) { /* not a middle chunk either */ }
      }
      return "chunk " + index + " is damaged, out of place, or the file is not for this key";
    }

    return new ReadableStream({
      async pull(controller) {
        try {
          if (state === null) await readHeader();
          var sealedLength = state.chunkSize + TAG_LENGTH;
          // One byte beyond a whole chunk tells whether it is the last: a chunk is final when nothing follows it.
          var more = await fill(reader, queue, sealedLength + 1, "The vault file");
          if (queue.length === 0) throw new FileRefused("it ends without its last chunk");
          if (index >= MAX_CHUNKS) throw new FileRefused("it has more than 2^32 - 1 chunks");
          var sealed = queue.take(Math.min(sealedLength, queue.length));
          if (sealed.length < TAG_LENGTH) throw new FileRefused("it ends inside chunk " + index);
          var plaintext;
          try {
            plaintext = await open(sealed, !more);
          } catch (e) {
            throw new FileRefused(await whyNot(sealed, !more));
          }
          if (!more && plaintext.length === 0 && index > 0) {
            throw new FileRefused("its last chunk is empty, which only an empty file's may be");
          }
          index += 1;
          if (plaintext.length) controller.enqueue(plaintext);
          if (!more) controller.close();
        } catch (e) {
          reader.cancel(e).catch(function () {});
          throw e;
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    }, { highWaterMark: 0 });
  }

  self.ClaimsiteVault = Object.freeze({
    generateKeyPair: generateKeyPair,
    publicRawOf: publicRawOf,
    wrapPrivateKey: wrapPrivateKey,
    unwrapPrivateKey: unwrapPrivateKey,
    newRecoveryCode: newRecoveryCode,
    encryptStream: encryptStream,
    decryptStream: decryptStream,
    base64urlEncode: base64urlEncode,
    base64urlDecode: base64urlDecode,
    VaultError: VaultError,
    WrongSecret: WrongSecret,
    FileRefused: FileRefused,
    HEADER_LENGTH: HEADER_LENGTH,
    TAG_LENGTH: TAG_LENGTH,
    DEFAULT_CHUNK_SIZE: DEFAULT_CHUNK_SIZE,
    DEFAULT_ITERATIONS: DEFAULT_ITERATIONS,
  });
})();
