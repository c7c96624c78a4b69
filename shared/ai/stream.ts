// Server-Sent Events of the streamed routes. (Unmasking a streamed answer: StreamUnmasker in
// ./masking.ts.)

/** One Server-Sent Event. */
export function sseEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
