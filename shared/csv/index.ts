// CSV (RFC 4180, CRLF) safe to open in a spreadsheet: a cell that a spreadsheet would run as a
// formula (= + - @, tab, CR) is prefixed with a single quote (OWASP "CSV injection"); cells are
// quoted when needed. csvRow writes one line; csvStream turns rows produced page by page into a
// ReadableStream, so an export never holds every row in memory.

export type CsvValue = string | number | boolean | null | undefined;

export function csvCell(value: CsvValue): string {
  if (value == null || value === "") return "";
  const v = String(value);
  const s = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n']/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: CsvValue[]): string {
  return `${values.map(csvCell).join(",")}\r\n`;
}

/**
 * A CSV stream: the header, then each batch `next()` yields (null when there is no more).
 * Pulled by the consumer, so at most one batch is in memory at a time.
 */
export function csvStream<R>(header: string[], next: () => Promise<R[] | null>, toRow: (r: R) => CsvValue[],
  onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(enc.encode(csvRow(header)));
        return;
      }
      try {
        const rows = await next();
        if (rows === null) {
          controller.close();
          return;
        }
        controller.enqueue(enc.encode(rows.map((r) => csvRow(toRow(r))).join("")));
      } catch (err) {
        onError?.(err);
        controller.error(err);
      }
    },
  });
}
