// Request field schemas every function shares.
import { z } from "zod";

// Every code point except NUL, with surrogates only in pairs: what PostgreSQL text stores
// exactly (it refuses NUL; a lone surrogate would come back as U+FFFD, not as acknowledged).
const STORABLE = /^(?:[^\u0000\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

/** A string we can store as given: refuses NUL and lone surrogates (400 code invalid_format). */
export const text = () => z.string().regex(STORABLE, "must not contain NUL or unpaired surrogates");

/** True when `s` can be stored exactly (see text()). */
export const isStorable = (s: string) => STORABLE.test(s);

/** A UUID (any version, either case). */
export const uuid = () => z.string().uuid();
