// shared/crypto and the row binding in shared/secrets: seed compatibility, AAD, tampering,
// key versions and rotation.
import { describe, expect, it } from "vitest";
import {
  base64ToBytes, bytesToBase64, createKeyedHasher, createKeyring, DecryptError, hexToBytes, importAesKey, open,
  openBytes, seal, timingSafeEqual, type Sealed,
} from "../../shared/crypto/index.ts";
import { openSecret, secretAad, sealSecret } from "../../shared/secrets/index.ts";

const SEED_KEY = "8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566";
const VECTOR: Sealed = {
  encryptedValue: "5qm0QlzWdgpFpWmIHVG02vVEwNIdKeTOWqsKRJd4R7+/Im2UsxSPdqV8",
  iv: "ChssPU5fYHGCk6S1",
  keyVersion: 1,
};
const VECTOR_PLAINTEXT = "sk-proj-legacy-Compat-0042";
const KEY2 = "22".repeat(32);
const USER_A = "6f0b8a3e-1c1d-4a52-9d44-0a1b2c3d4e5f";
const USER_B = "0e9d8c7b-6a59-4837-a261-5f4e3d2c1b0a";

/** Flip one bit of byte `index` (negative counts from the end) of a base64 string. */
function flipBit(b64: string, index: number, bit = 0): string {
  const bytes = base64ToBytes(b64);
  const i = index < 0 ? bytes.length + index : index;
  bytes[i] ^= 1 << bit;
  return bytesToBase64(bytes);
}

async function expectDecryptError(p: Promise<unknown>, reason?: string) {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(DecryptError);
  if (reason) expect((err as Error).message).toBe(reason);
}

describe("seed compatibility", () => {
  it("decrypts the seed vector (key version 1, no AAD)", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    expect(await open(ring, VECTOR)).toBe(VECTOR_PLAINTEXT);
  });

  it("decrypts the seed vector through openSecret with aad_bound = false", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const row = { encrypted_value: VECTOR.encryptedValue, initialization_vector: VECTOR.iv, key_version: 1, aad_bound: false };
    expect(await openSecret(ring, row, USER_A, "openai_api_key_encrypted")).toBe(VECTOR_PLAINTEXT);
    // the same row marked as AAD-bound must not open
    await expectDecryptError(openSecret(ring, { ...row, aad_bound: true }, USER_A, "openai_api_key_encrypted"));
  });

  it("the seed vector does not open with AAD or under another key", async () => {
    await expectDecryptError(open(await createKeyring({ version: 1, hex: SEED_KEY }), VECTOR, "x"), "authentication failed");
    await expectDecryptError(open(await createKeyring({ version: 1, hex: KEY2 }), VECTOR), "authentication failed");
  });

  it("stores ciphertext || 16-byte tag in base64", async () => {
    expect(base64ToBytes(VECTOR.encryptedValue).length).toBe(VECTOR_PLAINTEXT.length + 16);
    expect(base64ToBytes(VECTOR.iv).length).toBe(12);
  });
});

describe("seal / open with AAD", () => {
  it("round-trips with AAD, binary and unicode plaintexts", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const aad = secretAad(USER_A, "openai_api_key_encrypted");
    const s = await seal(ring, "sk-live-💡-ünïcode", aad);
    expect(s.keyVersion).toBe(1);
    expect(await open(ring, s, aad)).toBe("sk-live-💡-ünïcode");
    const bin = new Uint8Array([0, 255, 1, 254]);
    expect(Array.from(await openBytes(ring, await seal(ring, bin, aad), aad))).toEqual([0, 255, 1, 254]);
  });

  it("sealSecret/openSecret bind the row; AAD swaps are rejected with DecryptError", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const s = await sealSecret(ring, USER_A, "openai_api_key_encrypted", "sk-abc");
    const row = { encrypted_value: s.encryptedValue, initialization_vector: s.iv, key_version: s.keyVersion, aad_bound: true };
    expect(await openSecret(ring, row, USER_A, "openai_api_key_encrypted")).toBe("sk-abc");
    await expectDecryptError(openSecret(ring, row, USER_B, "openai_api_key_encrypted"), "authentication failed");
    await expectDecryptError(openSecret(ring, row, USER_A, "anthropic_api_key_encrypted"), "authentication failed");
    // ... and without AAD at all
    await expectDecryptError(openSecret(ring, { ...row, aad_bound: false }, USER_A, "openai_api_key_encrypted"));
  });

  it("secretAad names table, user and service", () => {
    expect(secretAad(USER_A, "openai_api_key_encrypted")).toBe(`user_secrets:${USER_A}:openai_api_key_encrypted`);
  });

  it("rejects one flipped bit in the ciphertext, the IV and the tag", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const aad = "user_secrets:x:y";
    const s = await seal(ring, "a secret value of some length", aad);
    expect(await open(ring, s, aad)).toBe("a secret value of some length");
    await expectDecryptError(open(ring, { ...s, encryptedValue: flipBit(s.encryptedValue, 0) }, aad), "authentication failed");
    await expectDecryptError(open(ring, { ...s, encryptedValue: flipBit(s.encryptedValue, 5, 7) }, aad), "authentication failed");
    await expectDecryptError(open(ring, { ...s, iv: flipBit(s.iv, 0) }, aad), "authentication failed");
    await expectDecryptError(open(ring, { ...s, iv: flipBit(s.iv, -1, 3) }, aad), "authentication failed");
    await expectDecryptError(open(ring, { ...s, encryptedValue: flipBit(s.encryptedValue, -1) }, aad), "authentication failed"); // tag
    await expectDecryptError(open(ring, { ...s, encryptedValue: flipBit(s.encryptedValue, -16, 4) }, aad), "authentication failed"); // tag
    // and the seed vector too
    const seedRing = await createKeyring({ version: 1, hex: SEED_KEY });
    await expectDecryptError(open(seedRing, { ...VECTOR, encryptedValue: flipBit(VECTOR.encryptedValue, 3) }));
    await expectDecryptError(open(seedRing, { ...VECTOR, iv: flipBit(VECTOR.iv, 3) }));
    await expectDecryptError(open(seedRing, { ...VECTOR, encryptedValue: flipBit(VECTOR.encryptedValue, -2) }));
  });

  it("rejects malformed input", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const s = await seal(ring, "v");
    await expectDecryptError(open(ring, { ...s, iv: "!!!not base64" }), "malformed base64");
    await expectDecryptError(open(ring, { ...s, iv: bytesToBase64(new Uint8Array(16)) }), "malformed ciphertext");
    await expectDecryptError(open(ring, { ...s, encryptedValue: bytesToBase64(new Uint8Array(15)) }), "malformed ciphertext");
  });

  it("rejects non-UTF-8 plaintext as DecryptError", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const s = await seal(ring, new Uint8Array([0xff, 0xfe]));
    await expectDecryptError(open(ring, s), "not UTF-8");
  });

  it("uses a 12-byte random IV: two seals of the same value differ", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const a = await seal(ring, "same", "aad");
    const b = await seal(ring, "same", "aad");
    expect(base64ToBytes(a.iv).length).toBe(12);
    expect(base64ToBytes(b.iv).length).toBe(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.encryptedValue).not.toBe(b.encryptedValue);
    const ivs = new Set(await Promise.all(Array.from({ length: 50 }, async () => (await seal(ring, "x")).iv)));
    expect(ivs.size).toBe(50);
  });
});

describe("the same bytes as WebCrypto AES-GCM", () => {
  const webKey = () => crypto.subtle.importKey("raw", hexToBytes(SEED_KEY), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  const enc = new TextEncoder();

  it("what seal writes, WebCrypto opens (with and without AAD, empty and long plaintexts)", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    for (const [plaintext, aad] of [["", undefined], ["sk-ü€😀", "user_secrets:a:b"], ["x".repeat(70_000), "row"]] as const) {
      const sealed = await seal(ring, plaintext, aad);
      const params = { name: "AES-GCM", iv: base64ToBytes(sealed.iv), ...(aad === undefined ? {} : { additionalData: enc.encode(aad) }) };
      const opened = new TextDecoder().decode(await crypto.subtle.decrypt(params, await webKey(), base64ToBytes(sealed.encryptedValue)));
      expect(opened).toBe(plaintext);
    }
  });

  it("what WebCrypto writes, open reads; a wrong AAD still fails", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc.encode("row-1") }, await webKey(), enc.encode("value-1")));
    const sealed = { encryptedValue: bytesToBase64(ct), iv: bytesToBase64(iv), keyVersion: 1 };
    expect(await open(ring, sealed, "row-1")).toBe("value-1");
    await expectDecryptError(open(ring, sealed, "row-2"), "authentication failed");
    await expectDecryptError(open(ring, sealed), "authentication failed");
  });
});

describe("key versions and rotation", () => {
  it("rejects an unknown / wrong key version", async () => {
    const ring = await createKeyring({ version: 1, hex: SEED_KEY });
    const s = await seal(ring, "v", "aad");
    await expectDecryptError(open(ring, { ...s, keyVersion: 2 }, "aad"), "unknown key version");
    // a keyring where version 2 exists but holds a different key
    const other = await createKeyring({ version: 2, hex: KEY2 }, [{ version: 1, hex: SEED_KEY }]);
    await expectDecryptError(open(other, { ...s, keyVersion: 2 }, "aad"), "authentication failed");
  });

  it("sealed under version 1 stays readable after rotating to version 2; new seals use version 2", async () => {
    const v1 = await createKeyring({ version: 1, hex: SEED_KEY });
    const old = await seal(v1, "rotating", "aad");
    expect(old.keyVersion).toBe(1);

    const v2 = await createKeyring({ version: 2, hex: KEY2 }, [{ version: 1, hex: SEED_KEY }]);
    expect(v2.currentVersion).toBe(2);
    expect(await open(v2, old, "aad")).toBe("rotating");
    expect(await open(v2, VECTOR)).toBe(VECTOR_PLAINTEXT);

    const fresh = await seal(v2, "rotating", "aad");
    expect(fresh.keyVersion).toBe(2);
    // version 2 only: the new row opens, the old one no longer does
    const only2 = await createKeyring({ version: 2, hex: KEY2 });
    expect(await open(only2, fresh, "aad")).toBe("rotating");
    await expectDecryptError(open(only2, old, "aad"), "unknown key version");
    // version 1 only cannot read version-2 rows
    await expectDecryptError(open(v1, fresh, "aad"), "unknown key version");
  });

  it("createKeyring rejects malformed keys; importAesKey wants 32 bytes", async () => {
    await expect(createKeyring({ version: 1, hex: SEED_KEY.slice(1) })).rejects.toThrow(/64 hexadecimal/);
    await expect(createKeyring({ version: 1, hex: SEED_KEY }, [{ version: 2, hex: "zz".repeat(32) }])).rejects.toThrow();
    await expect(importAesKey(new Uint8Array(16))).rejects.toThrow(/32 bytes/);
  });

});

describe("helpers", () => {
  it("hexToBytes / base64 round trips", () => {
    expect(Array.from(hexToBytes("00ff10Ab"))).toEqual([0, 255, 16, 171]);
    expect(() => hexToBytes("abc")).toThrow();
    expect(() => hexToBytes("zz")).toThrow();
    const big = new Uint8Array(100_000).map((_, i) => i % 256);
    expect(Array.from(base64ToBytes(bytesToBase64(big)))).toEqual(Array.from(big));
    expect(bytesToBase64(new Uint8Array([104, 105]))).toBe("aGk=");
  });

  it("timingSafeEqual", () => {
    expect(timingSafeEqual("", "")).toBe(true);
    expect(timingSafeEqual("abc", "abc")).toBe(true);
    expect(timingSafeEqual("abc", "abd")).toBe(false);
    expect(timingSafeEqual("abc", "ab")).toBe(false);
    expect(timingSafeEqual("ab", "abc")).toBe(false);
    expect(timingSafeEqual("", "a")).toBe(false);
    expect(timingSafeEqual("a\u0000", "a")).toBe(false); // padding with zero must not make them equal
    expect(timingSafeEqual("é", "e\u0301")).toBe(false);
    expect(timingSafeEqual("ünï", "ünï")).toBe(true);
  });

  it("createKeyedHasher is deterministic per key and differs between keys", async () => {
    const h1 = await createKeyedHasher(hexToBytes(SEED_KEY));
    const h1again = await createKeyedHasher(hexToBytes(SEED_KEY));
    const h2 = await createKeyedHasher(hexToBytes(KEY2));
    const a = await h1("+15551234567");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await h1("+15551234567")).toBe(a);
    expect(await h1again("+15551234567")).toBe(a);
    expect(await h1("+15551234568")).not.toBe(a);
    expect(await h2("+15551234567")).not.toBe(a);
    // RFC 4231 test case 2: key "Jefe"
    const jefe = await createKeyedHasher(new TextEncoder().encode("Jefe") as Uint8Array<ArrayBuffer>);
    expect(await jefe("what do ya want for nothing?")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
});
