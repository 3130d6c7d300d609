import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { CorruptSessionError } from '../session.errors.js';

/** Marks an encrypted value; the key's short id follows, so old keys are found without trying all. */
const PREFIX = 'e1.';
/** Fields that stay readable: the store's own meta (the scripts compute TTLs from them). */
const CLEAR_FIELDS = new Set(['$c', '$t', '$a', '$l', '$>']);

/**
 * Encryption at rest: session values stored AES-256-GCM encrypted, so a Redis dump, a replica or
 * a read-only Redis user reveals no session data. The key is 32 bytes; old keys still decrypt
 * (rotation). A value that fails authentication is corrupt data (a fresh session, never a 500).
 * @internal
 */
export class FieldCipher {
  private readonly keys: { id: string; key: Buffer }[];

  constructor(current: Buffer, old: Buffer[] = []) {
    this.keys = [current, ...old].map((key) => ({
      id: createHash('sha256').update(key).digest('base64url').slice(0, 6),
      key,
    }));
  }

  /** Whether a field is encrypted (every one but the store's meta). */
  covers(field: string): boolean {
    return !CLEAR_FIELDS.has(field);
  }

  encrypt(field: string, text: string): string {
    if (!this.covers(field)) return text;
    const { id, key } = this.keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    // The field name is authenticated too: a value cannot be moved to another field.
    cipher.setAAD(Buffer.from(field));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return `${PREFIX}${id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The plaintext of a stored value; plain values (written before encryption was on) pass. */
  decrypt(field: string, stored: string): string {
    if (!this.covers(field) || !stored.startsWith(PREFIX)) return stored;
    const dot = stored.indexOf('.', PREFIX.length);
    const entry = this.keys.find((k) => k.id === stored.slice(PREFIX.length, dot));
    if (entry === undefined)
      throw new CorruptSessionError('a value is encrypted with an unknown key');
    const raw = Buffer.from(stored.slice(dot + 1), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(field));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new CorruptSessionError('an encrypted value failed authentication');
    }
  }

  /** Encrypts the values of a flat field/value list. */
  encryptPairs(pairs: string[]): string[] {
    const out = pairs.slice();
    for (let i = 0; i < out.length; i += 2) out[i + 1] = this.encrypt(out[i], out[i + 1]);
    return out;
  }
}

/** A 32-byte key from its base64 / base64url / hex text, or a message saying what is wrong. @internal */
export function parseEncryptionKey(text: string): Buffer | string {
  const hex = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : undefined;
  const key = hex ?? Buffer.from(text, 'base64');
  return key.length === 32 ? key : 'must be 32 bytes, as 64 hex digits or 44 base64 characters';
}
